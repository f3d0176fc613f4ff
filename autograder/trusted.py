"""The trusted grader: grade one submission (see :mod:`autograder.grade` for the command line).

A notebook is re-executed in a jailed worker (:mod:`autograder.sandbox`); then this process scores each graded
cell by running the check the instructor's hidden test names, with proxies that call the learner's functions
inside the jail through plain data (:mod:`autograder.rpc`), and scores the stage from the submission.json the
re-executed notebook wrote, against gold labels the jail cannot read. Nothing from the jail is imported,
unpickled or taken as a score. :func:`grade_path` returns a report whose ``exit_code`` is 0 (passed), 1 (below
target) or 2 (invalid: ``messages`` say what to do). Grading only reads the submission.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import stat
from pathlib import Path

from autograder.escape import plain_text
from autograder.scoring import MAX_BYTES, Gold, invalid, key_path, load_gold, read_json_submission, score
from autograder.stages import STAGES, Stage, get_stage
from textclass.submission import SubmissionError

NOTEBOOK_ENV = ("PATH", "LANG", "LC_ALL", "TEXTCLASS_CACHE", "VIRTUAL_ENV")


def regular_file(path: Path) -> bool:
    """True for a regular file, checked without following a symlink (FIFOs, devices, links: False)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def locate(path: Path) -> tuple[str, Path]:
    """``("json" | "notebook", file)`` for a file or a learner's folder (only regular files are accepted)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        raise SubmissionError(f"{path}: no such file") from None
    if stat.S_ISLNK(mode):
        raise SubmissionError(f"{path.name} is a symbolic link: submit the file itself")
    if stat.S_ISDIR(mode):
        notebooks = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if len(notebooks) > 1:
            raise SubmissionError(f"{path.name}/ holds {len(notebooks)} notebooks; submit exactly one .ipynb")
        if notebooks:
            if not regular_file(notebooks[0]):
                raise SubmissionError(f"{path.name}/{notebooks[0].name} is not a regular file (a symbolic link, "
                                      "FIFO or device): submit the notebook file itself")
            return "notebook", notebooks[0]
        candidate = path / "submission.json"
        if os.path.lexists(candidate):
            if not regular_file(candidate):
                raise SubmissionError(f"{path.name}/submission.json is not a regular file (a symbolic link, FIFO "
                                      "or device): submit the file itself")
            return "json", candidate
        raise SubmissionError(f"{path.name}/ holds neither a notebook (.ipynb) nor a submission.json")
    if not stat.S_ISREG(mode):
        raise SubmissionError(f"{path.name} is not a regular file (a FIFO, socket or device): submit a "
                              "submission.json or a notebook")
    return ("notebook" if path.suffix == ".ipynb" else "json"), path


def grade_path(path, stage: Stage | str, gold: Gold | None = None, *, answer_key=None, data_dir=None,
               solution=None, limits=None, parameters: dict | None = None, hide=()) -> dict:
    """Grade one submission file or folder (see the module docstring). ``parameters``: notebook parameters for
    the re-run of a notebook submission (ignored for submission.json). ``hide``: more paths the jail must not see."""
    stage = get_stage(stage) if isinstance(stage, str) else stage
    path = Path(path)
    try:
        gold = gold or load_gold(stage, answer_key, data_dir)
        kind, file = locate(path)
        if kind == "json":
            report = score(read_json_submission(file), stage, gold)
            report["isolation"] = "not needed (a submission.json is only read, never executed)"
        else:
            report = grade_notebook(file, stage, gold, solution=solution, limits=limits, data_dir=data_dir,
                                    folder=path if path.is_dir() else None, parameters=parameters, hide=hide)
    except SubmissionError as exc:
        report = invalid(stage.name, str(exc))
    report.setdefault("submission", path.name)
    if report.get("exercises"):  # the hidden cases were drawn from this secret (its fingerprint, never the secret)
        from autograder.checks import secret_label

        report["secret"] = secret_label()
    report["graded_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return report


# --------------------------------------------------------------------------- notebooks
def _solution_for(stage: Stage, solution) -> Path | None:
    if solution:
        return Path(solution)
    if stage.level:
        from autograder.notebook import solution_path

        return solution_path(stage.level)
    return None


def _folder_files(folder: Path | None) -> tuple[dict, list[str]]:
    """The learner's other small regular files (a folder submission), checked with lstat; messages on skips."""
    files, skipped = {}, []
    if folder is None:
        return files, skipped
    for item in sorted(folder.iterdir()):
        if item.suffix == ".ipynb" or item.name == "submission.json":
            continue
        if not regular_file(item):
            skipped.append(item.name)
            continue
        size = item.stat().st_size
        if size <= MAX_BYTES and not item.name.startswith(".") and len(files) < 100 \
                and sum(map(len, files.values())) + size <= 4 * MAX_BYTES:
            with open(item, "rb") as fh:
                files[item.name] = fh.read(MAX_BYTES)
    return files, [f"{', '.join(n[:60] for n in skipped[:5])}: not a regular file (symbolic link, FIFO, device or "
                   "folder); not copied"] if skipped else []


def _run_checks(jail, graded, visible_errors: dict) -> list[dict]:
    """Each graded cell's score, computed here by the instructor's check with proxies to the jail. As in nbgrader,
    a graded cell whose visible asserts raised scores 0 (the learner's kernel can only lower a score this way)."""
    from autograder.rpc import Proxy

    out = []
    for g in graded:
        entry = {"grade_id": g.grade_id, "max_score": g.points, "score": 0.0, "message": ""}
        if g.grade_id in visible_errors:
            entry["message"] = f"the visible test raised {visible_errors[g.grade_id]}: make it pass first"
            out.append(entry)
            continue
        try:
            module = importlib.import_module(g.module if g.module.startswith("autograder.checks.") else "")
            check = getattr(module, g.check)
            result = check(*[Proxy(jail, name) for name in g.functions])
            value = float(result.score)
            entry["score"] = round(min(g.points, max(0.0, value)), 4) if value == value else 0.0
            failed = [f"{d}: {m}" if m else d for d, got, possible, m in result.parts if got < possible]
            entry["message"] = "; ".join(failed)[:600]
            if result.details:   # the hidden cases that failed, as the instructor's report shows them
                entry["instructor_detail"] = plain_text("; ".join(f"{d}: {x}" for d, x in result.details)[:1500])
        except Exception as exc:  # noqa: BLE001 -- a broken check is the grader's problem, scored 0 and said
            entry["message"] = f"GRADER ERROR in {g.check}: {type(exc).__name__}: {str(exc)[:200]}"
        out.append(entry)
    return out


def grade_notebook(path: Path, stage: Stage, gold: Gold, *, solution=None, limits=None, data_dir=None,
                   folder: Path | None = None, parameters: dict | None = None, hide=()) -> dict:
    """Re-execute the notebook in the jail, score its graded cells here, grade the submission.json it wrote.

    ``parameters`` (e.g. ``{"size": "small", "train_limit": 2000}``) are injected by papermill; the notebook
    needs a cell tagged ``parameters`` for them, and they are listed in the report."""
    import nbformat

    from autograder.notebook import graded_cells, nbgrader_meta, prepare, read_submission
    from autograder.sandbox import Jail, Limits, isolation_available, sandbox_info
    from textclass.config import resolve_data_dir

    limits = limits or Limits()
    nb = read_submission(path)
    messages, graded = [], []
    source = _solution_for(stage, solution)
    if source is not None and source.is_file():
        graded = graded_cells(nbformat.read(source, as_version=4))  # the instructor's: errors are the grader's
        messages += prepare(nb, graded)
    else:
        messages.append(f"no instructor notebook for stage {stage.name}: exercises were not graded")
        for cell in nb.cells:
            nbgrader_meta(cell).pop("grade", None)
    directory = resolve_data_dir(data_dir)
    has_params = any("parameters" in (c.get("metadata", {}).get("tags") or []) for c in nb.cells)
    requested = dict(parameters or {})
    if requested and not has_params:
        messages.append("the notebook has no cell tagged 'parameters': -p " + ", ".join(requested) + " ignored")
    parameters = ({"profile": "offline", **({"data_dir": str(directory)} if directory else {}), **requested}
                  if has_params else {})
    env = {k: v for k, v in os.environ.items() if k in NOTEBOOK_ENV}
    env.update(TEXTCLASS_PROFILE="offline", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               **({"TEXTCLASS_DATA_DIR": str(directory)} if directory else {}))
    env.setdefault("TEXTCLASS_CACHE", str(Path.home() / ".cache" / "textclass"))
    files, skipped = _folder_files(folder)
    messages += skipped
    files["submission.ipynb"] = nbformat.writes(nb).encode()
    hidden = [*hide, *([Path(gold.source)] if not gold.public else []),  # every stage's key, not only this one's
              *[k for s in STAGES.values() if (k := key_path(s, directory)) is not None]]
    if folder is not None:
        hidden.append(folder.resolve())
    else:
        hidden.append(path.resolve())
    extra = {"kind": "notebook", "sandbox": sandbox_info(isolation_available(), limits),
             **({"run_parameters": requested} if requested and has_params else {})}
    with Jail(files, limits, env=env, parameters=parameters, hide=hidden) as jail:
        run = jail.outcome()
        extra["run_seconds"] = round(jail.elapsed(), 1)
        if run["status"] != "ok":
            return _invalid(stage, f"{run.get('error', 'the run failed')}. The notebook must run from top to bottom "
                            "in a fresh kernel (Kernel > Restart & Run All) within the limits.", messages, **extra)
        errors, visible_errors, wanted = [], {}, {g.grade_id for g in graded}
        try:
            executed = nbformat.reads(run["notebook"], as_version=4)
            # cells counted as the learner sees them: from 1, without the parameters cell the run injected
            theirs = [c for c in executed.cells
                      if "injected-parameters" not in ((c.get("metadata") or {}).get("tags") or [])]
            for i, c in enumerate(theirs, 1):
                gid = nbgrader_meta(c).get("grade_id") if nbgrader_meta(c).get("grade") else None
                for o in c.get("outputs", []) if c.get("cell_type") == "code" else []:
                    if isinstance(o, dict) and o.get("output_type") == "error":
                        evalue = plain_text(str(o.get("evalue") or "")[:200])
                        what = plain_text(str(o.get("ename"))[:60]) + (f": {evalue}" if evalue else " (no message)")
                        if gid in wanted:
                            visible_errors.setdefault(gid, what)
                        else:
                            first = next((ln.strip() for ln in str(c.get("source") or "").splitlines()
                                          if ln.strip()), "")
                            first = plain_text(first[:50]) + ("..." if len(first) > 50 else "")
                            errors.append(f"cell {i} of {len(theirs)} ({first!r}) raised {what}")
        except Exception:  # noqa: BLE001 -- the worker's report is untrusted data
            pass
        messages += errors[:5]
        exercises = _run_checks(jail, graded, visible_errors)
        extra["checks_seconds"] = round(jail.elapsed() - extra["run_seconds"], 1)
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
    except (ValueError, RecursionError) as exc:  # SubmissionError is a ValueError; too deep a JSON recurses
        return _invalid(stage, f"the submission.json the notebook wrote is not valid: {plain_text(exc)}", messages, **extra,
                        exercises=exercises)
    incoming = path.parent / "submission.json"
    online = _online_submission(incoming, stage)
    if online is not None:   # a reproduction stage: the notebook's own run is offline and cannot pass it
        try:
            report = score(read_json_submission(incoming), stage, gold)
            messages.append(f"stage {stage.name!r} was graded from the submission.json handed in with the notebook "
                            f"(profile {plain_text(str(online)[:40])}): the re-executed notebook runs offline, where this "
                            "stage cannot pass; its exercises were graded from the re-executed notebook")
        except (ValueError, RecursionError, OSError) as exc:
            messages.append(f"the submission.json handed in with the notebook is not valid ({plain_text(exc)[:200]}): "
                            "the stage was graded from the re-executed notebook")
    elif regular_file(incoming) and incoming.stat().st_size <= MAX_BYTES:
        try:
            if json.loads(incoming.read_text(encoding="utf-8")).get("predictions") != sub["predictions"]:
                messages.append("the submission.json sent with the notebook differs from the one the notebook "
                                "produced when re-executed; only the re-executed one was graded")
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
    report["messages"] = messages + report["messages"]
    report.update(extra, exercises=exercises, **_exercise_totals(exercises))
    return report


def _exercise_totals(exercises: list) -> dict:
    return {"exercise_score": round(sum(e["score"] for e in exercises), 4),
            "exercise_max": sum(e["max_score"] for e in exercises)}


def _online_submission(incoming: Path, stage: Stage):
    """The ``profile`` of a submission.json handed in beside a notebook when it is an online run for a stage that
    an offline run cannot pass (``reproduce``), else None: such a stage is graded from that file, as a
    submission.json handed in alone would be, and the notebook's exercises from its re-execution."""
    from autograder.stages import OFFLINE_CANNOT_PASS

    if stage.name not in OFFLINE_CANNOT_PASS or not regular_file(incoming) or incoming.stat().st_size > MAX_BYTES:
        return None
    try:
        profile = json.loads(incoming.read_text(encoding="utf-8")).get("profile")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError, OSError):
        return None
    return profile if isinstance(profile, str) and profile.startswith("online") else None


def _invalid(stage: Stage, message: str, messages: list, **extra) -> dict:
    report = invalid(stage.name, message, **extra)
    report["messages"] += messages
    exercises = extra.get("exercises")
    if isinstance(exercises, list) and exercises:   # the checks that ran still count: a blank notebook is 0/30
        report.update(_exercise_totals(exercises))
    return report


