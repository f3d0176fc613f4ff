"""Re-execute a notebook submission in a sandbox and grade what the re-execution produced.

Before running, every graded test cell (nbgrader ``grade: true``, matched by ``grade_id``) is restored from
the instructor's ``solutions/`` notebook, with a preamble that re-imports ``autograder`` and ``textclass``
fresh from the read-only installation (so monkeypatching them earlier in the notebook changes nothing).
The notebook then runs with papermill in a separate process:

* ``unshare --net --mount --pid`` (when available, as root): a network namespace with only loopback, every
  mount read-only except a size-limited tmpfs scratch directory (cwd, HOME and TMPDIR are inside it), a
  PID namespace so that killing the runner kills every process the notebook started; then ``setpriv``
  drops all capabilities, so the notebook cannot remount, re-enter the host network or raise limits.
* always: RLIMIT_AS (memory), RLIMIT_FSIZE (largest file), a per-cell and a wall-clock time limit, and a
  cap on the output the notebook prints; the runner reports back over a private pipe.

Without ``unshare`` the run falls back to a plain child process with the same limits and reports
``sandbox.mode == "limits-only"`` (network and files outside scratch are then NOT protected).
"""
from __future__ import annotations

import copy
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nbformat

from autograder.grade import MAX_BYTES, EXIT_INVALID, Gold, invalid, score
from autograder.stages import Stage
from textclass.submission import SubmissionError

REPO_ROOT = Path(__file__).resolve().parent.parent
_PREAMBLE_MARK = "# --- autograder: restored test cell"


@dataclass(frozen=True)
class Limits:
    wall_s: float = 1800
    cell_s: float = 600
    memory_mb: int = 8192
    output_mb: float = 20  # total text the notebook may print
    file_mb: int = 512  # largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 1024  # scratch tmpfs size


# --------------------------------------------------------------------------- restoring graded cells
def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def graded_cells(nb) -> list:
    return [c for c in nb.cells if _nbg(c).get("grade") and _nbg(c).get("grade_id")]


def _preamble(solution) -> str:
    """Re-import autograder/textclass fresh from the installation, then every import the test cells use."""
    imports = sorted({line.strip() for c in graded_cells(solution) for line in c.source.splitlines()
                      if line.strip().startswith(("from autograder", "import autograder", "from textclass",
                                                  "import textclass"))})
    return "\n".join([
        f"{_PREAMBLE_MARK} (instructor's version; edits to it are discarded) ---",
        "import sys as _ag_sys",
        f"_ag_sys.path.insert(0, {str(REPO_ROOT)!r})",
        "for _ag_m in [m for m in list(_ag_sys.modules) if m.split('.')[0] in ('autograder', 'textclass')]:",
        "    del _ag_sys.modules[_ag_m]",
        "try:",
        "    get_ipython().display_formatter.formatters['text/plain'].type_printers.pop(float, None)",
        "except NameError:",
        "    pass",
        *imports, "# ---", ""])


def _student_version(source: str) -> str:
    """The source with its hidden tests removed (what nbgrader gives learners)."""
    return re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", source, flags=re.S).strip()


def restore_graded_cells(nb, solution) -> list[str]:
    """Put the instructor's graded cells into ``nb`` (in place); return messages about what was changed."""
    messages, preamble = [], _preamble(solution)
    wanted = {_nbg(c)["grade_id"]: c for c in graded_cells(solution)}
    seen = {}
    for cell in nb.cells:
        cell.pop("outputs", None) if cell.cell_type != "code" else cell.update(outputs=[], execution_count=None)
        gid = _nbg(cell).get("grade_id")
        if _nbg(cell).get("grade") and (gid not in wanted or gid in seen):
            cell.metadata["nbgrader"]["grade"] = False
            messages.append(f"cell {gid!r} claims to be a graded test but is not one of the assignment's (or is a "
                            "duplicate); it was run but not graded")
        elif gid in wanted and gid not in seen:
            seen[gid] = cell
    previous = None
    for gid, source_cell in wanted.items():
        restored = copy.deepcopy(source_cell)
        restored.source = preamble + source_cell.source
        restored.outputs, restored.execution_count = [], None
        if gid in seen:
            if seen[gid].source.strip() not in (source_cell.source.strip(), _student_version(source_cell.source)):
                messages.append(f"test cell {gid!r} had been edited; the instructor's version was restored")
            index = nb.cells.index(seen[gid])
            nb.cells[index] = restored
        else:
            index = nb.cells.index(previous) + 1 if previous is not None else len(nb.cells)
            nb.cells.insert(index, restored)
            messages.append(f"test cell {gid!r} was missing; the instructor's version was put back")
        previous = nb.cells[index]
    return messages


def cell_scores(nb) -> list[dict]:
    """Each graded cell's score: its last expression when numeric (clamped to its points), else full points
    when it ran without error; 0 on an error (only the exception's name and message, never the source)."""
    out = []
    for cell in graded_cells(nb):
        meta, points = _nbg(cell), float(_nbg(cell).get("points", 0) or 0)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        values = [o["data"]["text/plain"] for o in cell.get("outputs", [])
                  if o.get("output_type") == "execute_result" and "text/plain" in o.get("data", {})]
        entry = {"grade_id": meta["grade_id"], "max_score": points, "score": 0.0, "message": ""}
        if errors:
            entry["message"] = f"raised {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:300]}"
        elif cell.get("execution_count") is None:
            entry["message"] = "did not run (the notebook stopped before it)"
        else:
            try:
                value = float(values[-1]) if values else points
                entry["score"] = round(min(points, max(0.0, value)), 4) if value == value else 0.0
            except ValueError:
                entry["score"] = points
        out.append(entry)
    return out


# --------------------------------------------------------------------------- running in the sandbox
_NS_SCRIPT = r"""
set -e
S="$1"; DISK="$2"; shift 2
ip link set lo up
mount -t tmpfs -o "size=${DISK}m,mode=0755" tmpfs "$S/work"
cp -a "$S/in/." "$S/work/"
mkdir -p "$S/work/.home" "$S/work/.tmp"
for m in $(awk '{print $2}' /proc/self/mounts); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$S/work") ;; *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;; esac
done
cd "$S/work"
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"
"""
_UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private"]


@lru_cache(maxsize=1)
def isolation_available() -> bool:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "setpriv", "ip")):
        return False
    probe = [*_UNSHARE, "sh", "-c", "ip link set lo up && mount -t tmpfs tmpfs /mnt && "
             "exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def sandbox_info(isolated: bool, limits: Limits) -> dict:
    enforced = [f"wall clock {limits.wall_s:g} s", f"{limits.cell_s:g} s per cell", f"memory {limits.memory_mb} MB "
                "(RLIMIT_AS)", f"files up to {limits.file_mb} MB", f"printed output up to {limits.output_mb:g} MB",
                "graded test cells restored from the instructor's source"]
    if isolated:
        enforced += ["network: loopback only (network namespace)", "filesystem read-only except the scratch "
                     f"directory (tmpfs, {limits.disk_mb} MB)", "no capabilities (cannot remount or leave)",
                     "every process killed at the end (PID namespace)"]
        missing = ["/dev/shm stays writable", "in-kernel hooks (IPython input transformers) could still alter a "
                   "restored cell; the stage score never depends on the kernel (recomputed from submission.json)"]
    else:
        missing = ["NO network isolation (unshare unavailable or not root)", "NO protection of files outside the "
                   "scratch directory", "processes the notebook detaches may survive"]
    return {"mode": "namespaces" if isolated else "limits-only", "enforced": enforced, "not_enforced": missing}


def _set_limits(limits: Limits):
    def apply():
        mem = limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        size = limits.file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_notebook(nb, extra_files: Path | None, limits: Limits, *, env: dict, parameters: dict) -> dict:
    """Execute ``nb`` in a fresh scratch directory; returns the runner's report (status, notebook, submission)."""
    isolated = isolation_available()
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        scratch = Path(tmp)
        (scratch / "in").mkdir()
        (scratch / "work").mkdir()
        if extra_files is not None:  # a learner's folder: its other small files come along
            for item in extra_files.iterdir():
                if item.is_file() and item.suffix != ".ipynb" and item.name != "submission.json" \
                        and item.stat().st_size <= MAX_BYTES:
                    shutil.copy2(item, scratch / "in" / item.name)
        nbformat.write(nb, scratch / "in" / "submission.ipynb")
        work = scratch / ("work" if isolated else "in")
        if not isolated:
            (work / ".home").mkdir()
            (work / ".tmp").mkdir()
        spec = {"output_cap": int(limits.output_mb * 2**20), "cell_s": limits.cell_s, "parameters": parameters}
        child_env = {**env, "HOME": str(work / ".home"), "TMPDIR": str(work / ".tmp"), "AG_SPEC": json.dumps(spec),
                     "MPLCONFIGDIR": str(work / ".tmp"), "IPYTHONDIR": str(work / ".home" / ".ipython"),
                     "JUPYTER_RUNTIME_DIR": str(work / ".tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
        read_fd, write_fd = os.pipe()
        runner = [sys.executable, "-m", "autograder.sandbox", "--child", str(write_fd)]
        command = [*_UNSHARE, "sh", "-c", _NS_SCRIPT, "sh", str(scratch), str(limits.disk_mb), *runner] \
            if isolated else runner
        start = time.monotonic()
        proc = subprocess.Popen(command, cwd=work, env=child_env, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_set_limits(limits))
        os.close(write_fd)
        data, cap, timed_out = bytearray(), int(limits.output_mb * 2**20) * 2 + MAX_BYTES, False
        with os.fdopen(read_fd, "rb") as pipe:
            while True:
                left = limits.wall_s - (time.monotonic() - start)
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([pipe], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(pipe.fileno(), 1 << 20)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > cap:
                        break
        if timed_out or len(data) > cap or proc.poll() is None:
            try:
                proc.wait(timeout=0 if timed_out else 10)
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is None:
                _kill(proc)
        seconds = time.monotonic() - start
        if timed_out:
            return {"status": "timeout", "error": f"the notebook ran past the {limits.wall_s:g} s wall-clock limit",
                    "seconds": seconds, "sandbox": sandbox_info(isolated, limits)}
        try:
            result = json.loads(bytes(data))
        except ValueError:
            result = {"status": "crashed", "error": f"the notebook runner died (exit {proc.returncode}; memory limit "
                      f"{limits.memory_mb} MB or output limit {limits.output_mb:g} MB exceeded?)"}
        result.update(seconds=seconds, sandbox=sandbox_info(isolated, limits))
        return result


def _child(fd: int) -> None:
    """Runs inside the sandbox: execute submission.ipynb with papermill, report over the pipe ``fd``."""
    os.set_inheritable(fd, False)  # the kernel must not be able to write to the report pipe
    spec = json.loads(os.environ.pop("AG_SPEC"))
    import nbclient.client
    import papermill
    import papermill.execute

    printed, original_output = [0], nbclient.client.NotebookClient.output

    def capped_output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        printed[0] += len(content.get("text", "")) + sum(len(v) for v in content.get("data", {}).values()
                                                         if isinstance(v, str))
        if printed[0] > spec["output_cap"]:  # report and stop at once (the PID namespace kills the kernel)
            _report(fd, {"status": "output_limit", "error": f"the notebook printed more than "
                         f"{spec['output_cap'] // 2**20} MB of output (cell {cell_index}); print less"})
            os._exit(0)
        return original_output(self, outs, msg, display_id, cell_index)

    nbclient.client.NotebookClient.output = capped_output
    papermill.execute.raise_for_execution_errors = lambda nb, path: None  # errors are graded, not fatal
    result = {"status": "ok"}
    try:
        nb = papermill.execute_notebook("submission.ipynb", ".executed.ipynb", parameters=spec["parameters"] or None,
                                        kernel_name="python3", language="python", progress_bar=False, log_output=False,
                                        execution_timeout=spec["cell_s"], allow_errors=True)
        result["notebook"] = nbformat.writes(nb)
    except BaseException as exc:  # noqa: BLE001 -- timeout, dead kernel, ...: reported, not raised
        name = type(exc).__name__
        why = f"a cell ran past the {spec['cell_s']:g} s per-cell limit" if "Timeout" in name else \
            f"the run failed: {name}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
        result = {"status": "timeout" if "Timeout" in name else "crashed", "error": why}
    sub = Path("submission.json")
    if sub.is_file() and not sub.is_symlink() and sub.stat().st_size <= MAX_BYTES:
        result["submission"] = sub.read_text(encoding="utf-8", errors="replace")
    _report(fd, result)


def _report(fd: int, result: dict) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as pipe:
        pipe.write(json.dumps(result))


# --------------------------------------------------------------------------- grading a notebook
def _solution_for(stage: Stage, solution) -> Path | None:
    if solution:
        return Path(solution)
    if stage.level:
        from tools.curriculum import get_level

        return get_level(stage.level).solution
    return None


def grade_notebook(path: Path, stage: Stage, gold: Gold, *, solution=None, limits: Limits | None = None,
                   data_dir=None, folder: Path | None = None, parameters: dict | None = None) -> dict:
    """Restore the graded cells, re-execute in the sandbox, grade the submission.json it wrote.

    ``parameters`` (e.g. ``{"size": "small", "train_limit": 2000}``) are injected by papermill; the notebook
    needs a cell tagged ``parameters`` for them, and they are listed in the report."""
    from textclass.config import resolve_data_dir

    limits = limits or Limits()
    if path.stat().st_size > MAX_BYTES:
        raise SubmissionError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB; clear the outputs "
                              "(Kernel > Restart & Clear Output) and submit again")
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 -- any parse problem is the learner's file
        raise SubmissionError(f"{path.name} is not a readable Jupyter notebook ({type(exc).__name__}); submit "
                              "the .ipynb file saved by Jupyter") from None
    messages = []
    source = _solution_for(stage, solution)
    if source is not None and source.is_file():
        messages += restore_graded_cells(nb, nbformat.read(source, as_version=4))
    else:
        messages.append(f"no instructor notebook for stage {stage.name}: test cells were not restored or graded")
        for cell in graded_cells(nb):
            cell.metadata["nbgrader"]["grade"] = False
    directory = resolve_data_dir(data_dir)
    has_params = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    requested = dict(parameters or {})
    if requested and not has_params:
        messages.append("the notebook has no cell tagged 'parameters': -p " + ", ".join(requested) + " ignored")
    parameters = ({"profile": "offline", **({"data_dir": str(directory)} if directory else {}), **requested}
                  if has_params else {})
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TEXTCLASS_CACHE", "VIRTUAL_ENV")}
    env.update(TEXTCLASS_PROFILE="offline", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               **({"TEXTCLASS_DATA_DIR": str(directory)} if directory else {}))
    env.setdefault("TEXTCLASS_CACHE", str(Path.home() / ".cache" / "textclass"))
    run = run_notebook(nb, folder, limits, env=env, parameters=parameters)
    extra = {"kind": "notebook", "sandbox": run["sandbox"], "run_seconds": round(run["seconds"], 1),
             **({"run_parameters": requested} if requested and has_params else {})}
    if run["status"] != "ok":
        return _invalid(stage, f"{run['error']}. The notebook must run from top to bottom in a fresh kernel "
                        "(Kernel > Restart & Run All) within the limits.", messages, **extra)
    executed = nbformat.reads(run["notebook"], as_version=4)
    exercises = cell_scores(executed)
    errors = [f"cell {i} raised {o.get('ename')}: {str(o.get('evalue'))[:200]}" for i, c in enumerate(executed.cells)
              if c.cell_type == "code" and not _nbg(c).get("grade")
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    messages += errors[:5]
    if "submission" not in run:
        return _invalid(stage, "the re-executed notebook did not write submission.json"
                        + (f" ({errors[0]})" if errors else "") + ": call textclass.submission.write_submission("
                        "'submission.json', ...) in the notebook", messages, **extra, exercises=exercises)
    try:
        sub = json.loads(run["submission"])
        if not isinstance(sub, dict):
            raise ValueError("not an object")
        missing = [k for k in ("stage", "dataset", "split", "predictions") if k not in sub]
        if missing:
            raise SubmissionError(f"the submission.json the notebook wrote lacks {', '.join(missing)}")
        report = score(sub, stage, gold)
    except ValueError as exc:  # SubmissionError is a ValueError
        return _invalid(stage, f"the submission.json the notebook wrote is not valid: {exc}", messages, **extra,
                        exercises=exercises)
    incoming = path.parent / "submission.json"
    if incoming.is_file() and incoming.stat().st_size <= MAX_BYTES:
        try:
            if json.loads(incoming.read_text(encoding="utf-8")).get("predictions") != sub["predictions"]:
                messages.append("the submission.json sent with the notebook differs from the one the notebook "
                                "produced when re-executed; only the re-executed one was graded")
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
    report["messages"] = messages + report["messages"]
    report.update(extra, exercises=exercises, exercise_score=round(sum(e["score"] for e in exercises), 4),
                  exercise_max=sum(e["max_score"] for e in exercises))
    return report


def _invalid(stage: Stage, message: str, messages: list, **extra) -> dict:
    report = invalid(stage.name, message, **extra)
    report["messages"] += messages
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
    else:
        sys.exit("internal: python -m autograder.sandbox --child FD (started by the grader)")
