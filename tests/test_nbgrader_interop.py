"""nbgrader and `python -m autograder` give the same score for the same *honest* notebook: the hidden tests in
solutions/ call the same checks.

Runs nbgrader's own `generate_assignment` and `autograde` (with a temporary gradebook and course folders)
on submissions of the Orientation level -- the full solution, and one with exercise (b) left blank and
exercise (c) answered wrongly -- and compares every graded cell's score with the autograder's.

Where they differ, on purpose: nbgrader restores the hidden tests into the learner's kernel and runs the checks
there, beside the learner's code; `python -m autograder` runs the checks in its own process and calls the
learner's functions in a jailed kernel through plain data. A notebook that tampers with the checks in its kernel
(third submission, "tampered": the partial one plus a cell that patches `autograder.checks` and strips the visible
asserts) gets full marks from nbgrader autograde, and from `python -m autograder` what its functions earn."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
LEVEL = "orientation"
BIN = Path(sys.executable).parent


def _nbgrader(*args, course: Path):
    flags = [f"--CourseDirectory.release_directory={course}/release",
             f"--CourseDirectory.submitted_directory={course}/submitted",
             f"--CourseDirectory.autograded_directory={course}/autograded",
             f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db", "--log-level=ERROR"]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([str(BIN / "nbgrader"), *args, *flags], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _submission(kind: str) -> nbformat.NotebookNode:
    """The solution notebook, or a partly wrong one (what a learner would hand in)."""
    nb = nbformat.read(REPO / "solutions" / LEVEL / f"{LEVEL}.ipynb", as_version=4)
    student = {c.metadata.get("nbgrader", {}).get("grade_id"): c
               for c in nbformat.read(REPO / "notebooks" / LEVEL / f"{LEVEL}.ipynb", as_version=4).cells}
    if kind in ("partial", "tampered"):
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "majority_baseline":  # left blank: the student version's stub
                cell.source = student[gid].source
            if gid == "sentences_needed":  # a plausible wrong answer: off by one sentence (no rounding up)
                cell.source = cell.source.replace("math.ceil", "math.floor").replace("np.ceil", "np.floor")
    if kind == "tampered":
        patch = nbformat.v4.new_code_cell(  # in-kernel checks report full marks; visible asserts are dropped
            "import autograder.checks as _c\n"
            "try:  # the grader's jail has a stub of autograder.checks, with nothing to patch\n"
            "    _c.CheckResult.score = property(lambda self: self.max_score)\n"
            "except AttributeError:\n"
            "    pass\n"
            "get_ipython().input_transformers_cleanup.append(\n"
            "    lambda lines: [l for l in lines if not l.lstrip().startswith('assert')])")
        nb.cells.insert(next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import" in c.source
                             and c.metadata.get("nbgrader", {}).get("grade_id") == "setup") + 1, patch)
    return nb


@pytest.mark.notebook
def test_nbgrader_and_autograder_agree(tmp_path, monkeypatch):
    from autograder.grade import grade_path
    from nbgrader.api import Gradebook

    monkeypatch.setenv("TEXTCLASS_RESULTS_DIR", str(tmp_path / "results"))  # never touch results/
    course = tmp_path / "course"
    course.mkdir()
    _nbgrader("generate_assignment", LEVEL, "--force", course=course)   # (autograde adds the students itself)
    subs = {"alice": _submission("full"), "bob": _submission("partial"), "mallory": _submission("tampered")}
    for student, nb in subs.items():
        folder = course / "submitted" / student / LEVEL
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{LEVEL}.ipynb")
    _nbgrader("autograde", LEVEL, "--force", course=course)

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        nbgrader_scores = {
            s: {g.name: float(g.score) for g in gb.find_submission_notebook(LEVEL, LEVEL, s).grades}
            for s in subs}

    ours_by_student = {}
    for student, nb in subs.items():
        mine = tmp_path / "mine" / student
        mine.mkdir(parents=True)
        nbformat.write(nb, mine / f"{LEVEL}.ipynb")
        report = grade_path(mine / f"{LEVEL}.ipynb", LEVEL)
        ours = ours_by_student[student] = {e["grade_id"]: e["score"] for e in report["exercises"]}
        theirs = {k: v for k, v in nbgrader_scores[student].items() if k in ours}
        if student != "mallory":
            assert ours == theirs, (student, ours, nbgrader_scores[student])
    # the documented difference: in-kernel checks can be tampered with, the trusted grader's cannot
    assert sum(nbgrader_scores["mallory"].values()) == 30  # nbgrader: full marks for a partly blank notebook
    assert ours_by_student["mallory"]["test_majority_baseline"] == 0  # ours: the blank exercise stays blank
    assert sum(ours_by_student["mallory"].values()) < 30
    assert sum(nbgrader_scores["alice"].values()) == 30
    assert sum(nbgrader_scores["bob"].values()) < 30  # the partial submission loses points in both
