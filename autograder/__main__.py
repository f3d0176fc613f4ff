"""Command line: ``python -m autograder {grade,grade-all,leaderboard} ...`` (``--help`` on each).

Exit codes of ``grade``: 0 passed, 1 graded but below target, 2 invalid submission (the message says what to do).
"""
from __future__ import annotations

import argparse
import json
import sys

from autograder.stages import STAGES


def _limits(args):
    from autograder.sandbox import Limits

    return Limits(wall_s=args.timeout, cell_s=args.cell_timeout, memory_mb=args.memory_mb)


def _common(p):
    p.add_argument("--stage", required=True, choices=sorted(STAGES), help="the stage to grade against")
    p.add_argument("--answer-key", help="hidden gold labels (TSV/CSV: index, label); default: the stage's key or "
                   "the split's public labels")
    p.add_argument("--data-dir", help="data directory (default: TEXTCLASS_DATA_DIR or ../shared/data)")
    p.add_argument("--solution", help="instructor notebook whose graded cells are restored (default: the stage's "
                   "level in solutions/)")
    p.add_argument("--timeout", type=float, default=1800, help="wall-clock limit per notebook, seconds")
    p.add_argument("--cell-timeout", type=float, default=600, help="limit per notebook cell, seconds")
    p.add_argument("--memory-mb", type=int, default=8192, help="memory limit of a notebook run (RLIMIT_AS)")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="a notebook parameter for the re-run (papermill), e.g. -p size=small -p train_limit=2000; "
                        "VALUE is a Python literal or YAML (numbers, lists, null, true, words); repeat for several")


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


def _parameters(pairs) -> dict:
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
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one submission.json, notebook or folder")
    g.add_argument("submission")
    g.add_argument("--json", dest="report", help="write the report (JSON) here")
    _common(g)
    a = sub.add_parser("grade-all", help="grade every submission in a folder, one process each")
    a.add_argument("submissions_dir")
    a.add_argument("--out", required=True, help="results folder: <learner>.json, <learner>.md, grades.csv")
    a.add_argument("--jobs", type=int, default=2)
    _common(a)
    b = sub.add_parser("leaderboard", help="a Markdown leaderboard from a results folder")
    b.add_argument("results_dir")
    b.add_argument("--out", help="write the Markdown here (e.g. book/leaderboard.md); default: print it")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, RuntimeError, OSError) as exc:  # SubmissionError, ResourceError: a clear message
        print(f"autograder: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:

    if args.command == "grade":
        from autograder.grade import grade_path, summary, write_report

        report = grade_path(args.submission, args.stage, answer_key=args.answer_key, data_dir=args.data_dir,
                            solution=args.solution, limits=_limits(args),
                            parameters=_parameters(args.parameter))
        print(summary(report))
        if args.report:
            write_report(report, args.report)
        return report["exit_code"]
    if args.command == "grade-all":
        from autograder.batch import grade_all

        summary_ = grade_all(args.submissions_dir, args.stage, args.out, jobs=args.jobs, answer_key=args.answer_key,
                             data_dir=args.data_dir, solution=args.solution, limits=_limits(args),
                             parameters=_parameters(args.parameter))
        print(json.dumps(summary_))
        return 0
    from autograder.leaderboard import write_leaderboard

    text = write_leaderboard(args.results_dir, args.out)
    if not args.out:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
