"""Beyond level: stratified_split -- solution full marks, blank 0, wrong answers lose points."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import beyond as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student


@pytest.fixture(scope="module")
def ex():
    return solution_and_student("beyond", "beyond", "stratified_split")


def test_solution_full_marks_student_zero(ex):
    assert_full_marks_and_blank_zero(checks.check_stratified_split, ex, ("stratified_split",))


def _not_stratified(labels, frac, seed):
    perm = np.random.default_rng(seed).permutation(len(labels))
    k = int(round(frac * len(labels)))
    return perm[k:], perm[:k]


def _global_state(labels, frac, seed):
    labels = np.asarray(labels)
    tr, te = [], []
    for c in np.unique(labels):
        rows = np.random.permutation(np.flatnonzero(labels == c))  # ignores the seed
        k = int(round(frac * len(rows)))
        te += rows[:k].tolist()
        tr += rows[k:].tolist()
    return tr, te


def _first_rows(labels, frac, seed):
    labels = np.asarray(labels)
    tr, te = [], []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = int(round(frac * len(rows)))
        te += rows[:k].tolist()
        tr += rows[k:].tolist()
    return tr, te


def _overlapping(labels, frac, seed):
    n = len(labels)
    return np.arange(n), np.arange(int(frac * n))


@pytest.mark.parametrize("wrong", [_not_stratified, _global_state, _first_rows, _overlapping])
def test_wrong_answers_lose_points(wrong):
    r = checks.check_stratified_split(wrong)
    assert r.score < r.max_score, r.report()


# ---- the rules the exercise text fixes (issue 12, point 7) -------------------------------------------------

def _with_rounding(how):
    def split(labels, frac, seed):
        labels = np.asarray(labels)
        rng = np.random.default_rng(seed)
        tr, te = [], []
        for c in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == c))
            k = how(frac * len(rows))
            te += rows[:k].tolist()
            tr += rows[k:].tolist()
        return tr, te
    return split


def _global_seeded(labels, frac, seed):
    labels = np.asarray(labels)
    np.random.seed(seed)  # reproducible, but it resets everyone else's random numbers
    tr, te = [], []
    for c in np.unique(labels):
        rows = np.random.permutation(np.flatnonzero(labels == c))
        k = int(round(frac * len(rows)))
        te += rows[:k].tolist()
        tr += rows[k:].tolist()
    return tr, te


@pytest.mark.parametrize("how", [lambda x: int(x), lambda x: int(np.ceil(x))], ids=["floor", "ceil"])
def test_rounding_of_split_sizes_is_enforced(how):
    r = checks.check_stratified_split(_with_rounding(how))
    assert r.score <= 5, r.report()


def test_global_rng_must_stay_untouched():
    r = checks.check_stratified_split(_global_seeded)
    assert r.score <= 7, r.report()
    assert "global random state" in r.report()


def _sklearn_stratified(labels, test_fraction, seed):
    """sklearn's stratify shares out ceil(test_fraction * n) test rows, not round(test_fraction * size) per class."""
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(labels)), test_size=test_fraction, stratify=np.asarray(labels),
                              random_state=seed)
    return np.sort(tr), np.sort(te)


@pytest.mark.parametrize("secret", [None, "another secret"])
def test_sklearns_allocation_loses_the_share_points(secret, use_secret):
    use_secret(secret)
    r = checks.check_stratified_split(_sklearn_stratified)
    assert r.score <= r.max_score - 3, r.report()


@pytest.mark.parametrize("stub", [lambda labels, f, seed: None, lambda labels, f, seed: ([], [])])
def test_a_stub_that_returns_nothing_scores_nothing(stub):
    assert checks.check_stratified_split(stub).score == 0
