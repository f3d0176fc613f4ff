"""Pull exercise code out of the solution and student notebooks (by nbgrader grade_id), so tests exercise
exactly what learners and instructors see -- nothing is copied into the tests."""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def cell_source(notebook: Path, grade_id: str) -> str:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(f"{notebook} has no cell with grade_id {grade_id!r}")


def load_functions(notebook: Path, grade_id: str) -> dict:
    """Execute one exercise cell (function definitions only) and return its namespace."""
    namespace = {"np": np}
    exec(compile(cell_source(notebook, grade_id), f"{notebook.name}:{grade_id}", "exec"), namespace)
    return namespace


def solution_and_student(level: str, notebook: str, grade_id: str) -> tuple[dict, dict]:
    return (load_functions(REPO / "solutions" / level / f"{notebook}.ipynb", grade_id),
            load_functions(REPO / "notebooks" / level / f"{notebook}.ipynb", grade_id))


def assert_full_marks_and_blank_zero(check, pair: tuple[dict, dict], names, *extra):
    """Through the same ``check``: the solution's functions earn full marks (10), the blank student
    version's (``raise NotImplementedError()``) earn 0 and are told so."""
    solution, student = pair
    r = check(*(solution[n] for n in names), *extra)
    assert r.score == r.max_score == 10, r.report()
    r = check(*(student[n] for n in names), *extra)
    assert r.score == 0 and "not implemented" in r.report(), r.report()
