"""The instructor's grading folder ``WORK`` (default ``grading/``): ``submitted/<stage>/`` (collect),
``graded/<stage>/`` (grade), ``feedback/``, ``grades.csv``. Shared by the collect/feedback/export/leaderboard verbs."""
from __future__ import annotations

from pathlib import Path

from autograder.stages import STAGES

DEFAULT_WORK = "grading"


def graded_dir(work, stage: str) -> Path:
    return Path(work) / "graded" / stage


def submitted_dir(work, stage: str) -> Path:
    return Path(work) / "submitted" / stage


def private_paths(*folders) -> list[Path]:
    """What a learner's jail must not see when a class is graded from or into ``folders`` (the class folder and
    ``--out``): each folder itself and, for a folder laid out as ``WORK/graded/<stage>`` or
    ``WORK/submitted/<stage>``, the whole of that grading folder's results: every stage's submissions, reports and
    feedback, and ``grades.csv`` -- wherever WORK is, inside the repository or not. A folder that holds what the
    notebook runs from (the repository, the Python environment, the caches, the data) is left out; its results
    folders are not."""
    import os
    import sys

    needed = [Path(__file__).resolve().parents[1], Path(sys.prefix), Path.home() / ".cache",
              *(Path(os.environ[v]) for v in ("TEXTCLASS_CACHE", "TEXTCLASS_DATA_DIR", "HF_HOME") if os.environ.get(v))]
    needed = [n.resolve() for n in needed]
    hidden = []
    for folder in folders:
        folder = Path(folder).resolve()
        if not any(n.is_relative_to(folder) for n in needed):
            hidden.append(folder)
        if folder.parent.name in ("graded", "submitted"):
            work = folder.parent.parent
            hidden += [work / name for name in ("graded", "submitted", "feedback", "grades.csv")]
    return list(dict.fromkeys(hidden))


def graded_stages(work) -> list[str]:
    root = Path(work) / "graded"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in STAGES) if root.is_dir() else []


def add_work_option(p) -> None:
    p.add_argument("--work", default=DEFAULT_WORK, help=f"the grading folder (default {DEFAULT_WORK}/)")
