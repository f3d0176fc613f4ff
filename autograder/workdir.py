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


def graded_stages(work) -> list[str]:
    root = Path(work) / "graded"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in STAGES) if root.is_dir() else []


def add_work_option(p) -> None:
    p.add_argument("--work", default=DEFAULT_WORK, help=f"the grading folder (default {DEFAULT_WORK}/)")
