"""``python -m autograder <verb> ...``: the grading command line (``--help`` on each verb).

verbs: grade (a submission.json, notebook, learner's folder, or a class folder with --out), collect, feedback,
export, leaderboard, rescore. Exit codes of ``grade``: 0 passed, 1 graded but below target, 2 invalid; a class
folder (``--out``): 0 graded, 2 not graded, 3 a report the grader could not write.
"""
from __future__ import annotations

import importlib
import sys

VERBS = {
    "grade": ("autograder.grade", "grade a submission.json, a notebook, a learner's folder or a class folder"),
    "collect": ("autograder.collect", "validate and snapshot an inbox of submissions (never modified)"),
    "feedback": ("autograder.feedback", "per-learner feedback Markdown, with no test source in it"),
    "export": ("autograder.export", "one CSV across stages (spreadsheet-safe)"),
    "leaderboard": ("autograder.leaderboard", "a Markdown leaderboard from a results folder (escaped)"),
    "rescore": ("autograder.rescore", "re-score result records from their saved predictions"),
}
ALIASES = {"grade-all": "grade"}  # grade-all DIR --out OUT == grade DIR --out OUT


def usage() -> str:
    return "usage: python -m autograder <verb> [--help]\n\nverbs:\n" + "\n".join(
        f"  {name:<12} {text}" for name, (_, text) in VERBS.items()) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    verb = ALIASES.get(argv[0], argv[0])
    if verb not in VERBS:
        print(f"autograder: unknown verb {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(VERBS[verb][0]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
