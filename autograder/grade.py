"""``python -m autograder grade FILE_OR_FOLDER --stage S``: grade one submission, or every submission in a class
folder. Recompute the metric from the predictions; never trust ``claimed_accuracy``.

A submission is a ``submission.json``, a notebook (``.ipynb``) or a learner's folder holding one of them. A
notebook is re-executed in a jailed worker (:mod:`autograder.sandbox`); then this process -- the trusted grader --
scores each graded cell by running the check the instructor's hidden test names, with proxies that call the
learner's functions inside the jail through plain data (:mod:`autograder.rpc`), and scores the stage from the
submission.json the re-executed notebook wrote, against gold labels the jail cannot read.

Exit codes: 0 passed, 1 graded but below target, 2 invalid (the message says what to do). With ``--out``, the
argument is a class folder (one file or folder per learner), graded into per-learner reports and grades.csv:
exit 0 whatever the learners scored, 2 when the class could not be graded, 3 when the grader could not write a
learner's report.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from autograder import first_paragraph
from autograder.batch import EXIT_GRADER_ERROR
from autograder.scoring import EXIT_INVALID, Gold, load_gold, summary, write_report
from autograder.stages import STAGES
from autograder.trusted import grade_notebook, grade_path, locate, regular_file
from autograder.workdir import private_paths
from textclass.submission import SubmissionError

__all__ = ["grade_path", "grade_notebook", "locate", "regular_file", "load_gold", "summary", "write_report", "main",
           "Gold"]


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder grade", description=first_paragraph(__doc__))
    parser.add_argument("submission", help="a submission.json, a notebook, a learner's folder or a class folder")
    parser.add_argument("--json", dest="report", help="write the report (JSON) here (one submission)")
    parser.add_argument("--out", help="results folder for a class folder: <learner>.json, <learner>.md, grades.csv")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel (class folder)")
    parser.add_argument("--force", action="store_true",
                        help="class folder: grade every learner again (a re-run otherwise skips a learner whose "
                             "submission, secret, solution notebook, checks and limits are all unchanged)")
    parser.add_argument("--keep-submission", action="store_true",
                        help="one submission.json with --json REPORT: copy it beside the report as "
                             "<report name>-submission.json and name that copy in the report's \"submission\" field, "
                             "so the report can be re-graded from what it graded")
    add_grading_options(parser)
    args = parser.parse_args(argv)
    try:
        from autograder.checks import secret_label

        secret_label()  # a named secret file that cannot be read stops here, before anything is graded
        from autograder.checks import SHORT_SECRET, instructor_secret

        if 0 < len(instructor_secret()) < SHORT_SECRET:
            print(f"autograder grade: warning: the instructor secret has fewer than {SHORT_SECRET} characters; a "
                  "learner can guess it from the fingerprint in every report, and with it every hidden case: use "
                  "openssl rand -hex 32", file=sys.stderr)
        from autograder.sandbox import require_isolation

        require_isolation()  # so does a required jail that is not there
        from autograder.scoring import check_keys_dir

        check_keys_dir(args.data_dir)  # and a key directory that would hide the data from every notebook
        parameters = parse_parameters(args.parameter)
        path = Path(args.submission)
        if args.keep_submission and (args.out or not (args.report and path.suffix == ".json" and regular_file(path))):
            raise ValueError("--keep-submission keeps one submission.json beside its report: give a .json "
                             "submission file and --json REPORT (a class folder's --out keeps none)")
        _never_over_the_submission(path, args.report, args.out)
        kept = path.read_bytes() if args.keep_submission else None
        if args.out:  # a class folder: every learner's file or folder in it
            from autograder.batch import grade_all

            if not path.is_dir() or path.is_symlink():
                raise ValueError(f"{path}: --out grades a class folder (one entry per learner); this is not a folder")
            done = grade_all(path, args.stage, args.out, jobs=args.jobs, answer_key=args.answer_key,
                             data_dir=args.data_dir, solution=args.solution, limits=limits_from(args),
                             parameters=parameters, force=args.force)
            print(class_table(args.out))
            print(json.dumps(done))
            # learners who fail are graded all the same (exit 0); a report the grader could not write is not
            return EXIT_GRADER_ERROR if done["outcomes"].get("grader error") else 0
        if path.is_dir() and not path.is_symlink():
            try:  # a folder that is not one learner's submission but holds entries: a class folder without --out
                locate(path)
            except SubmissionError as exc:
                if any(p.is_dir() or p.suffix in (".json", ".ipynb") for p in path.iterdir()):
                    raise ValueError(f"{exc}; to grade a class folder (one entry per learner) add --out "
                                     "RESULTS_FOLDER") from None
        # one learner's notebook: the jail sees neither its neighbours (a class folder?) nor any graded results
        report = grade_path(path, args.stage, answer_key=args.answer_key, data_dir=args.data_dir,
                            solution=args.solution, limits=limits_from(args), parameters=parameters,
                            hide=private_paths(path.parent, data_dir=args.data_dir))
    except (ValueError, RuntimeError, OSError) as exc:  # SubmissionError, ResourceError: a clear message
        print(f"autograder: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if kept is not None:  # before the verdict is printed: a submission that changed has no verdict
        try:
            report["submission"] = keep_submission(path, kept, args.report).name
        except (ValueError, OSError) as exc:
            print(f"autograder: {exc}; no report written", file=sys.stderr)
            return EXIT_INVALID
    print(summary(report))
    if args.report:
        write_report(report, args.report)
    return report["exit_code"]


def _never_over_the_submission(path: Path, report, out) -> None:
    """Refuse (ValueError, exit 2) a report path that is the submission, or a results folder that is the class folder
    or inside it: the grader writes there and must never replace what a learner submitted."""
    submission = path.resolve()
    if report and (Path(report).resolve() == submission or submission in Path(report).resolve().parents):
        raise ValueError(f"--json {report} is the submission itself or inside it: give the report a path of its "
                         "own (nothing a learner submitted is overwritten)")
    if out:
        folder = Path(out).resolve()
        if folder == submission or submission in folder.parents:
            raise ValueError(f"--out {out} is inside the class folder {path}: give the results a folder of their "
                             "own, beside it")


def keep_submission(submission, data: bytes, report) -> Path:
    """Write ``data`` (the graded submission.json's bytes, read before grading) to ``<report stem>-submission.json``
    beside the report; the submission itself is only read. A submission that changed while it was graded is a
    ValueError (nothing is written). Returns the copy's path."""
    from textclass.submission import atomic_write_bytes

    source, report = Path(submission), Path(report)
    if source.read_bytes() != data:
        raise ValueError(f"{source} changed while it was graded: grade it again")
    copy = report.with_name(report.stem + "-submission.json")
    # the submission is already where its copy goes: keep it as it is (a link there is replaced by a real copy)
    if not (copy.exists() and not copy.is_symlink() and os.path.samefile(copy, source)):
        atomic_write_bytes(copy, data)
    return copy


def class_table(out) -> str:
    """One line per learner of a class run's results folder: outcome, accuracy, score, exercises."""
    from autograder.batch import load_results, outcome

    lines = []
    for r in load_results(out):
        acc = f"{r['accuracy']:6.2f}%" if isinstance(r.get("accuracy"), (int, float)) else " " * 7
        ex = (f"  exercises {r['exercise_score']:g}/{r['exercise_max']:g}"
              if isinstance(r.get("exercise_score"), (int, float)) and r.get("exercise_max") else "")
        lines.append(f"  {r['learner']:14s} {outcome(r):12s} {acc}  score {r.get('score', 0):g}{ex}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
