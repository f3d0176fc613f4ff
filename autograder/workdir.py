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


def needed_paths(data_dir=None) -> list[Path]:
    """What a graded notebook runs from and must still see in the jail: the repository, the Python environment
    (and the interpreter it was made from), the caches, the data directory and the temporary folder."""
    import os
    import sys
    import tempfile

    from textclass.config import resolve_data_dir

    try:
        data = resolve_data_dir(data_dir)
    except Exception:  # noqa: BLE001 -- no data directory: nothing there to keep
        data = None
    needed = [Path(__file__).resolve().parents[1], Path(sys.prefix), Path(sys.base_prefix), Path.home() / ".cache",
              Path(tempfile.gettempdir()), *([data] if data else []),
              *(Path(os.environ[v]) for v in ("TEXTCLASS_CACHE", "TEXTCLASS_DATA_DIR", "HF_HOME") if os.environ.get(v))]
    return [n.expanduser().resolve() for n in needed]


def private_paths(*folders, data_dir=None, strict: bool = False) -> list[Path]:
    """What a learner's jail must not see when a class is graded from or into ``folders`` (the class folder and
    ``--out``, or the folder of one notebook): each folder itself and, when it lies anywhere inside a grading folder
    laid out as ``WORK/graded/<stage>/...`` or ``WORK/submitted/<stage>/...``, the whole of that grading folder's
    results: every stage's submissions, reports and feedback, and ``grades.csv`` -- wherever WORK is, inside the
    repository or not. A folder that holds what the notebook runs from (:func:`needed_paths`) cannot be hidden:
    with ``strict`` (a class run) that is a ValueError saying so, otherwise it is left visible."""
    needed = needed_paths(data_dir)
    hidden = []
    for folder in folders:
        folder = Path(folder).expanduser().resolve()
        holds = [n for n in needed if n.is_relative_to(folder)]
        if not holds:
            hidden.append(folder)
        elif strict:
            raise ValueError(f"{folder} holds {holds[0]}, which the graded notebooks need: put the class folder and "
                             "--out in a folder of their own (e.g. grading/submitted/<stage> and grading/graded/<stage>)")
        for inner in (folder, *folder.parents):
            if inner.parent.name in ("graded", "submitted"):
                work = inner.parent.parent
                hidden += [work / name for name in ("graded", "submitted", "feedback", "grades.csv")]
                break
    return list(dict.fromkeys(hidden))


def graded_stages(work) -> list[str]:
    root = Path(work) / "graded"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in STAGES) if root.is_dir() else []


def add_work_option(p) -> None:
    p.add_argument("--work", default=DEFAULT_WORK, help=f"the grading folder (default {DEFAULT_WORK}/)")
