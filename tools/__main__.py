"""``python -m tools <verb> [options]``: the course tooling, one verb per module (``tools/<verb>.py``, ``main(argv)``).

Verbs are imported lazily, so a verb whose module is missing or broken only breaks itself.
"""
from __future__ import annotations

import importlib
import sys

# verb -> one line of help (the module is tools/<verb>.py)
VERBS = {
    "run": "execute levels' notebooks into a run folder (_build/runs); --size small (default) or full",
    "book": "build the Jupyter Book (committed reference, or --run FOLDER for a run's notebooks)",
    "regenerate": "student notebooks notebooks/<level>/ from solutions/ with nbgrader",
    "levels": "list the levels with the time each took in the records (results/*.json)",
    "benchmark": "evaluator and latency benchmarks -> benchmarks/results.json, book/benchmarks.md",
    "publish": "maintainer: copy a run folder into the committed reference (book/executed, results) and re-check",
    "release": "instructor: release the student notebooks (tools/release.py)",
    "data": "the offline data folder (TEXTCLASS_DATA_DIR, else ../shared/data), built once from the Hugging Face Hub",
}


def usage() -> str:
    lines = ["usage: python -m tools <verb> [options]    (python -m tools <verb> --help for a verb's options)", "",
             "verbs:"]
    lines += [f"  {verb:11s} {text}" for verb, text in VERBS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"python -m tools: unknown verb {verb!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f"tools.{verb}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tools.{verb}":
            print(f"python -m tools {verb}: this checkout has no tools/{verb}.py yet, so the verb is not "
                  "available here.", file=sys.stderr)
            return 2
        raise
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
