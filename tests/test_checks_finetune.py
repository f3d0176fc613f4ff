"""Fine-tuning level: the solution's choose_by_heldout gets full marks, the blank student version 0, and
plausible wrong answers (choosing by validation, keeping the last tie) lose points."""
from __future__ import annotations

import pytest

from autograder.checks import finetune as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student


@pytest.fixture(scope="module")
def ex():
    return solution_and_student("finetune", "finetune", "choose_by_heldout")


def test_solution_full_marks_student_zero(ex):
    assert_full_marks_and_blank_zero(checks.check_choose_by_heldout, ex, ("choose_by_heldout",))


def _by_validation(runs):
    if not runs:
        raise ValueError
    return max(runs, key=lambda r: r["validation_accuracy"])


def _last_on_tie(runs):
    if not runs:
        raise ValueError
    best = runs[0]
    for r in runs:
        if r["heldout_accuracy"] >= best["heldout_accuracy"]:
            best = r
    return best


def _no_empty_check(runs):
    return max(runs, key=lambda r: r["heldout_accuracy"]) if runs else None  # silently returns nothing


@pytest.mark.parametrize("wrong,max_expected", [(_by_validation, 2), (_last_on_tie, 7), (_no_empty_check, 8)])
def test_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_choose_by_heldout(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_heldout_split_is_disjoint_and_seeded():
    from textclass.finetune import heldout_split

    tr, ho = heldout_split(100, 20, seed=3)
    assert len(ho) == 20 and len(tr) == 80 and not set(tr) & set(ho)
    assert (heldout_split(100, 20, seed=3)[1] == ho).all()
