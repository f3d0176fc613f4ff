"""Embeddings level: solution full marks, blank student zero, plausible wrong answers lose points; and the
MTEB undersampling helper (textclass.mteb) behaves like MTEB 1.0.x's loop."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from autograder.checks import embeddings as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student
from textclass import mteb


@pytest.fixture(scope="module")
def ex():
    return {gid: solution_and_student("embeddings", "embeddings", gid)
            for gid in ("mean_pooling", "sample_per_class", "mteb_undersample")}


def test_a_mean_pooling(ex):
    assert_full_marks_and_blank_zero(checks.check_mean_pooling, ex["mean_pooling"], ("mean_pooling",))


def _plain_mean(h, m):
    return h.mean(dim=1)


def _no_clamp(h, m):
    mask = m.unsqueeze(-1).to(h.dtype)
    return (h * mask).sum(1) / mask.sum(1)


def _divide_by_length(h, m):
    return (h * m.unsqueeze(-1).to(h.dtype)).sum(1) / h.shape[1]


@pytest.mark.parametrize("wrong,max_expected", [(_plain_mean, 4), (_no_clamp, 8), (_divide_by_length, 4)])
def test_a_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_mean_pooling(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_b_sample_per_class(ex):
    assert_full_marks_and_blank_zero(checks.check_sample_per_class, ex["sample_per_class"], ("sample_per_class",))


def _first_n(labels, n, seed):
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels))
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:n] for c in np.unique(labels)]))


def _n_total(labels, n, seed):
    if n is None:
        return np.arange(len(labels))
    return np.sort(np.random.RandomState(seed).choice(len(labels), size=2 * n, replace=False))


@pytest.mark.parametrize("wrong", [_first_n, _n_total])
def test_b_wrong_answers_lose_points(wrong):
    r = checks.check_sample_per_class(wrong)
    assert 0 < r.score < r.max_score, r.report()


def test_c_mteb_undersample(ex):
    assert_full_marks_and_blank_zero(checks.check_mteb_undersample, ex["mteb_undersample"], ("mteb_undersample",))


def _fresh_arange_each_time(labels, k, idxs, rng):
    return mteb.undersample(labels, k, None, rng)  # forgets the previous shuffle


def _choice_per_label(labels, k, idxs, rng):
    labels = np.asarray(labels)
    out = []
    for c in np.unique(labels):
        m = np.flatnonzero(labels == c)
        out += rng.choice(m, size=min(k, len(m)), replace=False).tolist()
    return out, idxs


def _sorted_sample(labels, k, idxs, rng):
    sampled, idxs = mteb.undersample(labels, k, idxs, rng)
    return sorted(sampled), idxs


@pytest.mark.parametrize("wrong", [_fresh_arange_each_time, _choice_per_label, _sorted_sample])
def test_c_wrong_answers_lose_points(wrong):
    r = checks.check_mteb_undersample(wrong)
    assert r.score < r.max_score, r.report()


def test_mteb_helper_matches_the_reference_loop():
    """textclass.mteb reproduces MTEB 1.0.x's loop: one RandomState(42), one index array reshuffled in place."""
    labels = np.random.RandomState(0).randint(0, 5, 120)
    rng, idxs, expected = np.random.RandomState(42), np.arange(len(labels)), []
    for _ in range(4):
        rng.shuffle(idxs)
        seen, kept = defaultdict(int), []
        for i in idxs:
            if seen[labels[i]] < 8:
                kept.append(int(i))
                seen[labels[i]] += 1
        expected.append(kept)
    assert mteb.experiment_indices(labels, n_experiments=4) == expected
    assert all(len(e) == 40 for e in expected) and expected[0] != expected[1]


def test_mteb_protocol_on_separable_embeddings():
    rng = np.random.RandomState(1)
    centres = rng.randn(4, 16) * 5
    y_train, y_test = np.repeat(np.arange(4), 30), np.repeat(np.arange(4), 10)
    X_train, X_test = centres[y_train] + rng.randn(120, 16), centres[y_test] + rng.randn(40, 16)
    res = mteb.run_protocol(X_train, y_train, X_test, y_test, n_experiments=3, progress=False)
    assert len(res.accuracies) == 3 and res.accuracy > 95 and len(res.predictions[res.closest_to_mean()]) == 40


def test_banking77_stage_band():
    from autograder.stages import get_stage

    stage = get_stage("embeddings-banking77")
    assert stage.passed(81.81) and stage.passed(80.86) and not stage.passed(80.8) and not stage.passed(82.9)


# ---- the rules the exercise text fixes (issue 12, point 7) -------------------------------------------------

def _seeds_the_global_rng(labels, n_per_class, seed):
    labels = np.asarray(labels)
    if n_per_class is None:
        return np.arange(len(labels))
    np.random.seed(seed)  # same seed, same sample -- but everyone else's random numbers change
    out = [np.random.choice(np.flatnonzero(labels == c), size=min(n_per_class, int((labels == c).sum())),
                            replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(out))


def _python_random(labels, n_per_class, seed):
    import random

    labels = np.asarray(labels)
    if n_per_class is None:
        return np.arange(len(labels))
    random.seed(seed)
    out = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c).tolist()
        out += random.sample(members, min(n_per_class, len(members)))
    return np.sort(np.array(out))


@pytest.mark.parametrize("wrong", [_seeds_the_global_rng, _python_random])
def test_b_global_rng_must_stay_untouched(wrong):
    r = checks.check_sample_per_class(wrong)
    assert r.score <= 7, r.report()
    assert "global random state" in r.report()


def _global_shuffle(labels, k, idxs, rng):
    labels = np.asarray(labels)
    if idxs is None:
        idxs = np.arange(len(labels))
    np.random.seed(rng.randint(0, 2**31 - 1))
    np.random.shuffle(idxs)  # draws from the global state (after seeding it from rng)
    seen, kept = defaultdict(int), []
    for i in idxs:
        if seen[labels[i]] < k:
            kept.append(int(i))
            seen[labels[i]] += 1
    return kept, idxs


def test_c_global_rng_must_stay_untouched():
    r = checks.check_mteb_undersample(_global_shuffle)
    assert r.score <= 2, r.report()


def _draws_globally_and_hides_it(labels, n_per_class, seed):
    """Draws from np.random without seeding it, and the kernel lies about the global state (get_state frozen)."""
    labels = np.asarray(labels)
    if n_per_class is None:
        return np.arange(len(labels))
    out = [np.random.choice(np.flatnonzero(labels == c), size=min(n_per_class, int((labels == c).sum())),
                            replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(out))


def test_b_a_kernel_that_lies_about_the_global_state_still_loses_the_points(monkeypatch):
    """The review's patched kernel: ``np.random.get_state`` frozen, so the harness's before/after comparison says
    "untouched". The grader also compares the answer with one made after the global generators were seeded
    elsewhere: a function that draws from them answers otherwise, and loses the points all the same."""
    frozen = np.random.get_state()
    monkeypatch.setattr(np.random, "get_state", lambda: frozen)
    r = checks.check_sample_per_class(_draws_globally_and_hides_it)
    assert "leaves the global random state alone" in r.report() and r.score <= 8, r.report()
    assert any(d.startswith("leaves the global") and got == 0 for d, got, _, _ in r.parts), r.report()


@pytest.mark.parametrize("stub", [lambda labels, n, seed: None, lambda labels, n, seed: [],
                                  lambda labels, n, seed: np.array([], dtype=int)])
def test_b_a_stub_that_returns_nothing_scores_nothing(stub):
    """The "sorted" and "global random state" parts are about a sample: an empty answer earns neither."""
    assert checks.check_sample_per_class(stub).score == 0
