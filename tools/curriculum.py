"""The curriculum's levels (curriculum.yml) and how to execute one level's notebook with papermill.

The command line is ``python -m tools run`` (:mod:`tools.run`); this module is the library it and the tests use.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from textclass.seed import DEFAULT_SEED, DEFAULT_THREADS
from tools import REPO_ROOT, RUN_DIR

SIZES = ("small", "full")


@dataclass
class Level:
    id: str
    title: str
    notebook: str
    minutes: int
    level: int
    parameters: dict = field(default_factory=dict)
    nbval: bool = True  # CI re-executes the notebook under nbval; off where a second run means retraining

    @property
    def solution(self) -> Path:
        return REPO_ROOT / "solutions" / self.id / f"{self.notebook}.ipynb"

    @property
    def student(self) -> Path:
        return REPO_ROOT / "notebooks" / self.id / f"{self.notebook}.ipynb"

    @property
    def executed(self) -> Path:
        """The committed reference execution the book renders (changed only by ``python -m tools publish``)."""
        return REPO_ROOT / "book" / "executed" / f"{self.notebook}.ipynb"

    def params(self, size: str) -> dict:
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}")
        return dict(self.parameters.get(size) or {})

    def recorded_seconds(self, size: str = "full", results: Path | None = None) -> tuple[float | None, str]:
        """The time of this level in the records (``results/<notebook>-<profile>-<size>.json``: the runner's
        ``wall_seconds`` when recorded, else the notebook's ``seconds``), preferring ``size``; returns
        ``(seconds, record file name)`` or ``(None, "")``."""
        results = Path(results or REPO_ROOT / "results")
        for want in (size, "full"):
            for path in sorted(results.glob(f"{self.notebook}-*-{want}.json")):
                try:
                    rec = json.loads(path.read_text(encoding="utf-8"))
                    seconds = rec.get("wall_seconds", rec.get("seconds"))
                except (OSError, ValueError):
                    continue
                if isinstance(seconds, (int, float)):
                    return float(seconds), path.name
        return None, ""


def levels() -> list[Level]:
    import yaml

    data = yaml.safe_load((REPO_ROOT / "curriculum.yml").read_text(encoding="utf-8"))
    return [Level(**entry) for entry in data["levels"]]


def get_level(level_id: str) -> Level:
    for level in levels():
        if level.id == level_id:
            return level
    raise KeyError(f"unknown level {level_id!r}; known: {', '.join(l.id for l in levels())}")


def kernel_manager_class():
    """A kernel manager that talks to the kernel over local IPC sockets instead of TCP: the kernel is on the
    same machine, and ipykernel then has no reason to warn "running over TCP without encryption"."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

    return LocalKernelManager


@contextmanager
def _env(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ExecutionFailed(RuntimeError):
    """A notebook raised; ``failed`` is the executed copy holding the error, ``cell``/``ename``/``evalue`` say
    where and what."""

    def __init__(self, level: str, failed: Path, cell, ename: str, evalue: str):
        self.level, self.failed, self.cell, self.ename, self.evalue = level, failed, cell, ename, evalue
        super().__init__(f"level {level}: {ename}: {evalue} (cell {cell}); see {failed}")


class CellTimedOut(RuntimeError):
    """A cell ran past the per-cell limit and was stopped; ``failed`` is the executed copy so far (papermill saves
    it as cells finish), ``timeout`` the limit in seconds."""

    def __init__(self, level: str, failed: Path, timeout):
        self.level, self.failed, self.timeout = level, failed, timeout
        super().__init__(f"level {level}: a cell ran past {timeout} s and was stopped; see {failed}")


def _literal(value) -> str:
    """A ``-p NAME=VALUE`` value that :func:`autograder.grade.parse_parameters` (the parser ``./course run -p``
    uses) reads back as ``value``: a plain string when it survives the round trip, else JSON."""
    from autograder.grade import parse_parameters

    if isinstance(value, str):
        try:
            if parse_parameters([f"value={value}"])["value"] == value:
                return value
        except ValueError:
            pass
    return json.dumps(value)


def execute(level: Level, output: str | os.PathLike, *, size: str = "full", profile: str = "auto",
            extra: dict | None = None, cwd: str | os.PathLike | None = None, results_dir=None,
            timeout: int | None = 3600, progress: bool = False, seed: int = DEFAULT_SEED,
            threads: int = DEFAULT_THREADS) -> dict:
    """Execute ``level``'s solution notebook with papermill into ``output``; return the parameters used.

    Atomic: the notebook executes into a temporary file beside ``output`` that replaces it only on success;
    on an error ``output`` is left as it was, the error notebook is kept as ``<output>.failed.ipynb`` and
    :class:`ExecutionFailed` is raised; a cell that runs past ``timeout`` seconds (None: no limit) is stopped,
    the notebook so far is kept the same way and :class:`CellTimedOut` is raised. The notebook runs in ``cwd``
    (default ``_build/runs/<level>/``), where it writes its submission.json; its result record goes to
    ``results_dir`` (default: the notebook's own default, ``results/``). Seeds (``TEXTCLASS_SEED``, ``PYTHONHASHSEED``) and the thread count
    (``TEXTCLASS_THREADS``) are fixed for the kernel, and the Hugging Face libraries' progress bars are off.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from textclass.config import resolve_profile

    resolved = resolve_profile(profile)
    cwd = Path(cwd or RUN_DIR / level.id)
    cwd.mkdir(parents=True, exist_ok=True)
    params = {"profile": resolved, "size": size, **level.params(size), **(extra or {})}
    if "threads" in pm.inspect_notebook(str(level.solution)) and "threads" not in (extra or {}):
        params["threads"] = threads  # a notebook with its own `threads` parameter gets --threads too
    python = os.path.relpath(sys.executable, REPO_ROOT) if sys.executable.startswith(str(REPO_ROOT)) else "python"
    command = f"{shlex.quote(python)} -m tools run {level.id} --size {size} --profile {resolved}"
    if params.get("device"):
        command += f" --device {params['device']}"
    command += f" --seed {seed}" if seed != DEFAULT_SEED else ""
    command += f" --threads {threads}" if threads != DEFAULT_THREADS else ""
    command += "".join(f" -p {shlex.quote(f'{name}={_literal(value)}')}" for name, value in (extra or {}).items()
                       if name != "device")
    env = {"TEXTCLASS_COMMAND": command, "TEXTCLASS_SEED": seed, "TEXTCLASS_THREADS": threads,
           "PYTHONHASHSEED": seed, "TOKENIZERS_PARALLELISM": "false",
           # transformers' "Loading weights 0/103" bars are live widgets in Jupyter and a stalled-looking line
           # on an executed page; the notebooks' own tqdm bars (tqdm.auto) are not affected
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    if results_dir is not None:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        env["TEXTCLASS_RESULTS_DIR"] = str(Path(results_dir).resolve())
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".partial.ipynb")
    failed = output.with_name(output.stem + ".failed.ipynb")
    bar = {"desc": f"{level.id:11s}", "unit": "cell", "leave": True,
           "bar_format": "{desc} {bar:24} {n_fmt}/{total_fmt} cells [{elapsed}<{remaining}]"} if progress else False
    with _env(env), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*without encryption.*")
        try:
            pm.execute_notebook(str(level.solution), str(partial), parameters=params, kernel_name="python3",
                                cwd=str(cwd), execution_timeout=timeout, progress_bar=bar,
                                kernel_manager_class=kernel_manager_class(), log_output=False)
        except PapermillExecutionError as exc:
            partial.replace(failed)
            raise ExecutionFailed(level.id, failed, exc.exec_count, exc.ename, exc.evalue) from exc
        except CellTimeoutError as exc:
            partial.replace(failed)
            raise CellTimedOut(level.id, failed, timeout) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    failed.unlink(missing_ok=True)
    drop_widget_outputs(partial)
    partial.replace(output)
    return params


WIDGET = "application/vnd.jupyter.widget-view+json"


def drop_widget_outputs(notebook: str | os.PathLike) -> int:
    """Remove the outputs that are live widgets (tqdm.auto's bars in a kernel): a saved notebook keeps no widget
    state, so a page would show each bar frozen at its start ("0%| 0/5"). Returns how many were dropped."""
    import nbformat

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    dropped = 0
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs") or []
        kept = [o for o in outputs if WIDGET not in (o.get("data") or {})]
        dropped += len(outputs) - len(kept)
        if len(kept) != len(outputs):
            cell["outputs"] = kept
    state = nb.get("metadata", {}).pop("widgets", None)
    if dropped or state is not None:
        nbformat.write(nb, path)
    return dropped


def error_outputs(notebook: str | os.PathLike) -> list[str]:
    """``"cell N: Ename: evalue"`` for every error output in an executed notebook (empty when there is none)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                found.append(f"cell {cell.get('execution_count') or i}: {out.get('ename')}: {out.get('evalue')}")
    return found


def stage_of_levels() -> dict[str, str]:
    """level id -> the stage that grades its submission.json: the stage named like the level, else the first
    stage whose ``level`` is it (levels without a stage are left out)."""
    from autograder.stages import STAGES

    out = {}
    for lv in levels():
        name = lv.id if lv.id in STAGES else next((s.name for s in STAGES.values() if s.level == lv.id), "")
        if name:
            out[lv.id] = name
    return out
