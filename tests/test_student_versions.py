"""notebooks/ is generated from solutions/ by nbgrader, never hand-edited: regenerate into a temporary
folder and compare, and check what the student version must and must not contain."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.curriculum import levels

REPO = Path(__file__).resolve().parent.parent
LEVELS = levels()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for lv in LEVELS:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", lv.id, "--force",
             f"--CourseDirectory.release_directory={out}", f"--CourseDirectory.db_url=sqlite:///{out}/gradebook.db",
             "--log-level=ERROR"], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in nb.cells]


@pytest.mark.parametrize("level", LEVELS, ids=[lv.id for lv in LEVELS])
def test_student_version_is_in_sync_with_solution(level, regenerated):
    fresh = regenerated / level.id / f"{level.notebook}.ipynb"
    assert level.student.exists(), f"run ./course regenerate: {level.student} is missing"
    assert _cells(level.student) == _cells(fresh), (
        f"{level.student} differs from what nbgrader generates from {level.solution}; run ./course regenerate")


@pytest.mark.parametrize("level", LEVELS, ids=[lv.id for lv in LEVELS])
def test_student_version_hides_solutions_and_hidden_tests(level):
    text = level.student.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "grade(checks."):
        assert marker not in text, f"{level.student} leaks {marker!r}"
    nb = nbformat.read(level.student, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "student copies carry no outputs"
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert graded and solutions and all("raise NotImplementedError()" in c.source for c in solutions)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "papermill needs a parameters cell"


@pytest.mark.parametrize("level", LEVELS, ids=[lv.id for lv in LEVELS])
def test_solution_has_hidden_tests_in_every_graded_cell(level):
    nb = nbformat.read(level.solution, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded
    for cell in graded:
        assert "### BEGIN HIDDEN TESTS" in cell.source and cell.metadata["nbgrader"]["points"] > 0
