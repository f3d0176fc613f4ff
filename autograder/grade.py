"""``python -m autograder grade FILE_OR_FOLDER --stage S``: grade one submission, or every submission in a class
folder. Recompute the metric from the predictions; never trust ``claimed_accuracy``.

A submission is a ``submission.json``, a notebook (``.ipynb``) or a learner's folder holding one of them. A
notebook is re-executed in a jailed worker (:mod:`autograder.sandbox`); then this process -- the trusted grader --
scores each graded cell by running the check the instructor's hidden test names, with proxies that call the
learner's functions inside the jail through plain data (:mod:`autograder.rpc`), and scores the stage from the
submission.json the re-executed notebook wrote, against gold labels the jail cannot read.

Exit codes: 0 passed, 1 graded but below target, 2 invalid (the message says what to do). A class folder (one
that holds learners' files or folders, not one submission) is graded with ``--out`` into per-learner reports.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import stat
import sys
from pathlib import Path

from autograder.scoring import (EXIT_INVALID, MAX_BYTES, Gold, invalid, load_gold, read_json_submission, score,
                                summary, write_report)
from autograder.stages import STAGES, Stage, get_stage
from textclass.submission import SubmissionError

__all__ = ["grade_path", "grade_notebook", "load_gold", "summary", "write_report", "main", "Gold"]
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
        if item.stat().st_size <= MAX_BYTES and not item.name.startswith(".") and len(files) < 100:
            with open(item, "rb") as fh:
                files[item.name] = fh.read(MAX_BYTES)
    return files, [f"{', '.join(n[:60] for n in skipped[:5])}: not a regular file (symbolic link, FIFO, device or "
                   "folder); not copied"] if skipped else []


def _run_checks(jail, graded) -> list[dict]:
    """Each graded cell's score, computed here by the instructor's check with proxies to the jail."""
    from autograder.rpc import Proxy

    out = []
    for g in graded:
        entry = {"grade_id": g.grade_id, "max_score": g.points, "score": 0.0, "message": ""}
        try:
            module = importlib.import_module(g.module if g.module.startswith("autograder.checks.") else "")
            check = getattr(module, g.check)
            result = check(*[Proxy(jail, name) for name in g.functions])
            value = float(result.score)
            entry["score"] = round(min(g.points, max(0.0, value)), 4) if value == value else 0.0
            failed = [f"{d}: {m}" if m else d for d, got, possible, m in result.parts if got < possible]
            entry["message"] = "; ".join(failed)[:600]
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
    from autograder.scoring import key_path

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
        try:
            executed = nbformat.reads(run["notebook"], as_version=4)
            errors = [f"cell {i} raised {str(o.get('ename'))[:60]}: {str(o.get('evalue'))[:200]}"
                      for i, c in enumerate(executed.cells) if c.get("cell_type") == "code"
                      for o in c.get("outputs", []) if isinstance(o, dict) and o.get("output_type") == "error"]
        except Exception:  # noqa: BLE001 -- the worker's report is untrusted data
            errors = []
        messages += errors[:5]
        exercises = _run_checks(jail, graded)
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
    except ValueError as exc:  # SubmissionError is a ValueError
        return _invalid(stage, f"the submission.json the notebook wrote is not valid: {exc}", messages, **extra,
                        exercises=exercises)
    incoming = path.parent / "submission.json"
    if regular_file(incoming) and incoming.stat().st_size <= MAX_BYTES:
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


# --------------------------------------------------------------------------- command line
def add_grading_options(p) -> None:
    """The options every grading verb shares; defaults come from :class:`autograder.sandbox.Limits`."""
    from autograder.sandbox import Limits

    d = Limits()
    p.add_argument("--stage", required=True, choices=sorted(STAGES), help="the stage to grade against")
    p.add_argument("--answer-key", help="hidden gold labels (TSV/CSV: index, label); default: the stage's key in "
                   "AUTOGRADER_KEYS_DIR or the data directory, or the split's public labels")
    p.add_argument("--data-dir", help="data directory (default: TEXTCLASS_DATA_DIR or ../shared/data)")
    p.add_argument("--solution", help="instructor notebook whose graded cells name the checks (default: the stage's "
                   "level in solutions/)")
    p.add_argument("--timeout", type=float, default=d.wall_s, help="wall-clock limit per notebook, seconds")
    p.add_argument("--cell-timeout", type=float, default=d.cell_s, help="limit per notebook cell, seconds")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="memory limit of a notebook run (RLIMIT_AS)")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="a notebook parameter for the re-run (papermill), e.g. -p size=small -p train_limit=2000; "
                        "VALUE is a Python literal or YAML (numbers, lists, null, true, words); repeat for several")


def limits_from(args):
    from autograder.sandbox import Limits

    return Limits(wall_s=args.timeout, cell_s=args.cell_timeout, memory_mb=args.memory_mb)


def _parameter_value(text: str):
    """A Python literal first (``1e-4`` is a number there, a string in YAML 1.1), else YAML (null, true, words)."""
    import ast

    import yaml

    if not text.strip():
        return None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return yaml.safe_load(text)


def parse_parameters(pairs) -> dict:
    """``["a=1", "b=[2, 3]"]`` -> ``{"a": 1, "b": [2, 3]}``; a clear error for anything else."""
    import yaml

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"-p {pair!r}: write NAME=VALUE with a Python name, e.g. -p train_limit=2000")
        if name == "profile":
            raise ValueError("-p profile=...: grading always runs offline (no network in the sandbox)")
        try:
            out[name] = _parameter_value(value)
        except yaml.YAMLError:
            raise ValueError(f"-p {pair!r}: the value is not valid YAML; quote strings, e.g. -p device=cpu") from None
    return out


def is_class_folder(path: Path) -> bool:
    """A folder of learners (not one learner's folder with a notebook or a submission.json in it)."""
    return path.is_dir() and not path.is_symlink() and not any(path.glob("*.ipynb")) \
        and not os.path.lexists(path / "submission.json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder grade", description=__doc__.splitlines()[0])
    parser.add_argument("submission", help="a submission.json, a notebook, a learner's folder or a class folder")
    parser.add_argument("--json", dest="report", help="write the report (JSON) here (one submission)")
    parser.add_argument("--out", help="results folder for a class folder: <learner>.json, <learner>.md, grades.csv")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel (class folder)")
    add_grading_options(parser)
    args = parser.parse_args(argv)
    try:
        parameters = parse_parameters(args.parameter)
        path = Path(args.submission)
        if is_class_folder(path):
            from autograder.batch import grade_all

            if not args.out:
                raise ValueError(f"{path} is a class folder (no notebook or submission.json in it): pass --out "
                                 "RESULTS_DIR for the per-learner reports")
            print(json.dumps(grade_all(path, args.stage, args.out, jobs=args.jobs, answer_key=args.answer_key,
                                       data_dir=args.data_dir, solution=args.solution, limits=limits_from(args),
                                       parameters=parameters)))
            return 0
        report = grade_path(path, args.stage, answer_key=args.answer_key, data_dir=args.data_dir,
                            solution=args.solution, limits=limits_from(args), parameters=parameters)
    except (ValueError, RuntimeError, OSError) as exc:  # SubmissionError, ResourceError: a clear message
        print(f"autograder: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(summary(report))
    if args.report:
        write_report(report, args.report)
    return report["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
