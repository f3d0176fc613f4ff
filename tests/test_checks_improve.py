"""Improve level: the solution's paired_significance matches an independent exact McNemar (full marks), the
blank student version gets 0, and unpaired or otherwise wrong tests lose points."""
from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.checks import improve as checks
from notebook_cells import solution_and_student


@pytest.fixture(scope="module")
def ex():
    return solution_and_student("improve", "improve", "paired_significance")


def test_solution_full_marks_student_zero(ex):
    sol, student = ex
    r = checks.check_paired_significance(sol["paired_significance"])
    assert r.score == pytest.approx(r.max_score) and r.max_score == 10, r.report()
    r = checks.check_paired_significance(student["paired_significance"])
    assert r.score == 0 and "not implemented" in r.report()


def _unpaired_z(a, b, y):
    """Two-proportion z-test: treats the two accuracies as independent samples."""
    pa, pb, n = (np.asarray(a) == y).mean(), (np.asarray(b) == y).mean(), len(y)
    pooled = (pa + pb) / 2
    se = math.sqrt(2 * pooled * (1 - pooled) / n)
    z = (pb - pa) / se if se else 0.0
    return 100 * (pb - pa), math.erfc(abs(z) / math.sqrt(2))


def _one_sided(a, b, y):
    a_r, b_r = np.asarray(a) == y, np.asarray(b) == y
    bb, c = int((a_r & ~b_r).sum()), int((~a_r & b_r).sum())
    n = bb + c
    return 100 * (b_r.mean() - a_r.mean()), sum(math.comb(n, i) for i in range(min(bb, c) + 1)) / 2 ** n


def _fraction_gain(a, b, y):
    from textclass.stats import mcnemar_exact
    return (np.asarray(b) == y).mean() - (np.asarray(a) == y).mean(), mcnemar_exact(a, b, y)


@pytest.mark.parametrize("wrong,max_expected", [(_unpaired_z, 3.01), (_one_sided, 3.01), (_fraction_gain, 7.01)])
def test_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_paired_significance(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_textclass_stats_agrees_with_the_check():
    from textclass.stats import mcnemar_exact

    r = checks.check_paired_significance(lambda a, b, y: (100 * ((b == y).mean() - (a == y).mean()),
                                                          mcnemar_exact(a, b, y)))
    assert r.score == pytest.approx(10), r.report()
