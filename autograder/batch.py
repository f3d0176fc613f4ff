"""``grade-all``: grade every submission in a folder, each in its own process, in parallel, resumably.

A submission is a file (learner = file stem) or a folder (learner = folder name). Results go to
``<out>/<learner>.json`` (the report plus ``learner``, ``input_hash``) and ``<learner>.md`` (feedback, never
any test source), and ``grades.csv`` summarises them; everything is written atomically. A submission whose
result exists with the same input hash is skipped. A grading process that crashes or hangs is recorded as
``exit_code`` 3 (grader error) and never stops the others.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import time
from pathlib import Path

from autograder.escape import csv_cell, md_block, md_cell
from autograder.trusted import grade_path, regular_file
from autograder.sandbox import Limits, isolation_available
from autograder.scoring import EXIT_INVALID, load_gold, summary, write_report
from autograder.stages import get_stage
from autograder.workdir import private_paths
from textclass.submission import atomic_write_text

EXIT_GRADER_ERROR = 3
VERSION = "1"  # bump to regrade everything
CSV_FIELDS = ("learner", "stage", "exit_code", "passed", "flagged", "accuracy", "score", "max_score",
              "exercise_score", "exercise_max", "model", "submission")


def learner_name(path: Path) -> str:
    folder = path.is_dir() and not path.is_symlink()
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path.name if folder else path.stem)[:100] or "_"


def _named_as_is(path: Path) -> bool:
    """The file's own name is its learner name (no character replaced)."""
    return learner_name(path) == (path.name if path.is_dir() and not path.is_symlink() else path.stem)


def input_hash(path: Path, stage: str, gold_source: str) -> str:
    """Over the names and the bytes of the regular files only (never opens a FIFO, never follows a link)."""
    h = hashlib.sha256(f"{VERSION}\0{stage}\0{gold_source}\0".encode())
    if path.is_dir() and not path.is_symlink():
        files = sorted(Path(d) / n for d, _, names in os.walk(path, followlinks=False) for n in names)
    else:
        files = [path]
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        if not regular_file(f):
            h.update(b"<not a regular file>\0")
            continue
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def grading_context(stage, secret: str, solution=None, limits=None) -> str:
    """What else decides a grade besides the submission: the secret's label (``secret_label()``: a fingerprint,
    never the secret), the solution notebook whose hidden tests name the checks, the checks and harnesses
    themselves, and the limits. Part of the hash that lets a re-run skip a learner: change any of them and every
    learner is graded again."""
    numbers = {k: float(v) for k, v in sorted(dataclasses.asdict(limits).items())} if limits is not None else {}
    h = hashlib.sha256(f"{secret}\0{json.dumps(numbers)}\0".encode())
    package = Path(__file__).resolve().parent
    sources = sorted([*(package / "checks").glob("*.py"), *(package / "harnesses").glob("*.py"),
                      *(package / "jail_checks").glob("*.py"), package / "sandbox.py", package / "trusted.py"])
    if solution is None and getattr(stage, "level", None):
        from autograder.notebook import solution_path

        solution = solution_path(stage.level)
    for f in sources + ([Path(solution)] if solution else []):
        h.update(f"{f.name}\0".encode())
        try:
            h.update(Path(f).read_bytes())
        except OSError:
            h.update(b"<missing>\0")
    return h.hexdigest()


def feedback_markdown(report: dict, *, instructor: bool = False) -> str:
    """A report as markdown: the learner's feedback, or (``instructor``) the grading folder's ``<learner>.md``, which
    adds the hidden cases that failed, with their inputs."""
    lines = [f"# {md_cell(report.get('learner', ''))}: stage {md_cell(report['stage'])}", "", "```",
             md_block(summary(report)), "```", ""]
    if report.get("exercises"):
        lines += ["| test | score | note |", "|---|---|---|"]
        lines += [f"| {md_cell(e['grade_id'])} | {e['score']:g}/{e['max_score']:g} | {md_cell(e['message'], 300)} |"
                  for e in report["exercises"]]
        hidden = [e for e in report["exercises"] if isinstance(e, dict) and e.get("instructor_detail")]
        if instructor and hidden:
            lines += ["", "Hidden cases that failed (instructor only: the learner's feedback does not show them):", ""]
            lines += [f"* {md_cell(e['grade_id'])}: {md_cell(e['instructor_detail'], 750)}" for e in hidden]
    return "\n".join(lines) + "\n"


def _child(path, stage, gold, out_file, kwargs):
    """Forked: grade one submission, write the report; stdout/stderr discarded (bounded)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    write_report(grade_path(path, stage, gold, **kwargs), out_file)
    os._exit(0)


def _finish(out: Path, learner: str, digest: str, work_file: Path, proc, why: str = "") -> dict:
    try:
        report = json.loads(work_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {"stage": "?", "passed": False, "flagged": False, "score": 0.0, "max_score": None,
                  "accuracy": None, "exit_code": EXIT_GRADER_ERROR,
                  "messages": [f"GRADER ERROR: {why or f'the grading process died (exit {proc.exitcode})'}; "
                               "tell the instructor (your submission may be fine)"],
                  "how_to_improve": "Nothing to do on your side yet."}
    report.update(learner=learner, input_hash=digest)
    write_report(report, out / f"{learner}.json")
    atomic_write_text(out / f"{learner}.md", feedback_markdown(report, instructor=True))
    work_file.unlink(missing_ok=True)
    return report


def grade_all(submissions_dir, stage_name: str, out, *, jobs: int = 2, answer_key=None, data_dir=None,
              solution=None, limits=None, parameters: dict | None = None, force: bool = False) -> dict:
    stage, limits = get_stage(stage_name), limits or Limits()
    out, root = Path(out), Path(submissions_dir)
    (out / ".work").mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    gold = load_gold(stage, answer_key, data_dir)  # once, shared by every forked grader
    from autograder.checks import secret_label   # here, not at import: the jail's stub has no secret_label

    secret = secret_label()
    context_hash = grading_context(stage, secret, solution, limits)
    todo, skipped, names = [], 0, {}
    paths = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    exact = {learner_name(p) for p in paths if _named_as_is(p)}   # names no other file may take
    for path in paths:
        learner = base = learner_name(path)
        k = 1
        while learner in names or (learner in exact and not (learner == base and _named_as_is(path))):
            learner, k = f"{base}_{k}", k + 1
        names[learner] = path
        # other notebook parameters are another grading run: they are part of the hash that resumes
        digest = input_hash(path, stage.name, gold.source + (json.dumps(parameters, sort_keys=True) if parameters else "")
                            + context_hash)
        if not force:  # resume: a learner graded before with the same inputs and context is skipped
            try:
                old = json.loads((out / f"{learner}.json").read_text(encoding="utf-8"))
                if old.get("input_hash") == digest and old.get("exit_code") != EXIT_GRADER_ERROR:
                    skipped += 1
                    continue
            except (OSError, ValueError):
                pass
        todo.append((path, learner, digest))
    # the jail of each learner sees neither the class folder (other learners) nor the results, of any stage
    kwargs = {"solution": solution, "limits": limits, "data_dir": data_dir, "parameters": parameters,
              "hide": private_paths(root, out, data_dir=data_dir, strict=True)}
    context = multiprocessing.get_context("fork")
    running, deadline = {}, limits.wall_s + limits.checks_s + 120
    while todo or running:
        while todo and len(running) < max(1, jobs):
            path, learner, digest = todo.pop(0)
            work_file = out / ".work" / f"{learner}.json"
            proc = context.Process(target=_child, args=(path, stage, gold, work_file, kwargs), daemon=False)
            proc.start()
            running[proc.sentinel] = (proc, learner, digest, work_file, time.monotonic())
        multiprocessing.connection.wait(list(running), timeout=1.0)
        for sentinel, (proc, learner, digest, work_file, began) in list(running.items()):
            late = time.monotonic() - began > deadline
            if proc.exitcode is None and not late:
                continue
            if late:
                proc.kill()
            proc.join()
            _finish(out, learner, digest, work_file, proc, f"grading took more than {deadline:g} s" if late else "")
            del running[sentinel]
    write_grades_csv(out)
    outcomes: dict[str, int] = {}
    for report in load_results(out):  # this class's learners only (a results folder may hold older reports)
        if report.get("learner") in names:
            outcomes[outcome(report)] = outcomes.get(outcome(report), 0) + 1
    return {"graded": len(names) - skipped, "skipped": skipped, "outcomes": outcomes,
            "seconds": round(time.monotonic() - start, 1),
            "out": str(out), "hidden_cases": secret,
            "isolation": "namespace jail" if isolation_available() else "limits-only (NOT isolated: see the reports)"}


def outcome(report: dict) -> str:
    """passed, not passed, flagged, invalid or grader error: what a class table and summary count."""
    code = report.get("exit_code")
    if code == EXIT_GRADER_ERROR:
        return "grader error"
    if code == EXIT_INVALID:
        return "invalid"
    if report.get("flagged"):
        return "flagged"
    return "passed" if report.get("passed") else "not passed"


def load_results(out) -> list[dict]:
    """The grader's reports in a results folder, each named by its file: ``<learner>.json`` (what the grader
    wrote), never by the ``learner`` it holds, which a report of ``grade FILE --json REPORT`` copies from the
    submission. A submission kept beside its report (``grade --keep-submission``: ``NAME-submission.json``, the
    learner's own JSON, which ``NAME.json`` names) and a file that is no report (no ``exit_code``, or neither a
    ``learner`` nor a ``stage``) are not read as reports; a learner who is called ``jo-submission`` is."""
    loaded = {}
    for f in sorted(Path(out).glob("*.json")):
        if f.stem.startswith(".") or not regular_file(f):
            continue
        try:
            report = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, RecursionError, OSError):
            continue
        # a report: the grader's exit code, and a learner (class runs) or a stage (``grade FILE --json REPORT``)
        if isinstance(report, dict) and "exit_code" in report and ("learner" in report or "stage" in report):
            loaded[f.name] = report
    kept = {r.get("submission") for name, r in loaded.items() if r.get("submission") == f"{name[:-5]}-submission.json"}
    results = []
    for name, report in loaded.items():
        if name not in kept:
            report["learner"] = name[:-5]
            results.append(report)
    return results


def stage_points(stage_name) -> float | str:
    """The points of the stage called ``stage_name``; "" when there is no such stage (a report written before its
    stage was known)."""
    from autograder.stages import STAGES

    stage = STAGES.get(stage_name) if isinstance(stage_name, str) else None
    return float(stage.points) if stage is not None else ""


def write_grades_csv(out) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for report in load_results(out):
        row = {k: report.get(k, "") for k in CSV_FIELDS}
        if row["max_score"] is None:   # an invalid submission: 0 out of the stage's points, as in the export
            row["max_score"] = stage_points(report.get("stage"))
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return atomic_write_text(Path(out) / "grades.csv", buffer.getvalue())
