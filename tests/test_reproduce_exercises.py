"""Reproduce level: for every graded exercise, the solution gets full marks, the blank student version gets
zero, and plausible wrong answers lose points (MiniTorch-style: one marker per task)."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import reproduce as checks
from notebook_cells import solution_and_student


@pytest.fixture(scope="module")
def ex_a():
    return solution_and_student("reproduce", "reproduce", "evaluate_in_batches")


@pytest.fixture(scope="module")
def ex_b():
    return solution_and_student("reproduce", "reproduce", "accuracy_with_interval")


@pytest.fixture(scope="module")
def ex_c():
    return solution_and_student("reproduce", "reproduce", "abstain")


# ---- (a) the evaluation loop -------------------------------------------------------------------------

@pytest.mark.task_a
def test_a_solution_full_marks(ex_a):
    r = checks.check_evaluate_in_batches(ex_a[0]["evaluate_in_batches"])
    assert r.score == r.max_score == 10, r.report()


@pytest.mark.task_a
def test_a_blank_student_scores_zero(ex_a):
    r = checks.check_evaluate_in_batches(ex_a[1]["evaluate_in_batches"])
    assert r.score == 0, r.report()
    assert "not implemented" in r.report()


def _sorted_but_not_restored(classify_batch, sentences, batch_size):
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    rows = []
    for s in range(0, len(order), batch_size):
        rows.extend(classify_batch([sentences[i] for i in order[s:s + batch_size]]))
    return np.array(rows)  # forgot to put the rows back in input order


def _unsorted(classify_batch, sentences, batch_size):
    rows = []
    for s in range(0, len(sentences), batch_size):
        rows.extend(classify_batch(sentences[s:s + batch_size]))
    return np.array(rows)  # right order, but no length sorting


def _one_big_batch(classify_batch, sentences, batch_size):
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out = classify_batch([sentences[i] for i in order])
    res = np.zeros_like(out)
    res[order] = out
    return res  # ignores batch_size


@pytest.mark.task_a
@pytest.mark.parametrize("wrong", [_sorted_but_not_restored, _unsorted, _one_big_batch])
def test_a_wrong_answers_lose_points(wrong):
    r = checks.check_evaluate_in_batches(wrong)
    assert 0 < r.score < r.max_score, r.report()


# ---- (b) accuracy and interval -----------------------------------------------------------------------

@pytest.mark.task_b
def test_b_solution_full_marks(ex_b):
    r = checks.check_accuracy_with_interval(ex_b[0]["accuracy_with_interval"])
    assert r.score == r.max_score == 10, r.report()


@pytest.mark.task_b
def test_b_blank_student_scores_zero(ex_b):
    assert checks.check_accuracy_with_interval(ex_b[1]["accuracy_with_interval"]).score == 0


def _wald(predictions, labels):
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(predictions) != len(labels):
        raise ValueError
    p = (predictions == labels).mean()
    half = 1.96 * np.sqrt(p * (1 - p) / len(labels))
    return 100 * p, 100 * (p - half), 100 * (p + half)


def _fraction_not_percent(predictions, labels):
    acc, lo, hi = _wald(predictions, labels)
    return acc / 100, lo / 100, hi / 100


@pytest.mark.task_b
@pytest.mark.parametrize("wrong,max_expected", [(_wald, 6), (_fraction_not_percent, 3)])
def test_b_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_accuracy_with_interval(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


# ---- (c) abstention ----------------------------------------------------------------------------------

@pytest.mark.task_c
def test_c_solution_full_marks(ex_c):
    r = checks.check_abstain(ex_c[0]["abstain"], ex_c[0]["coverage_at_accuracy"])
    assert r.score == r.max_score == 10, r.report()


@pytest.mark.task_c
def test_c_blank_student_scores_zero(ex_c):
    assert checks.check_abstain(ex_c[1]["abstain"], ex_c[1]["coverage_at_accuracy"]).score == 0


def _strict_abstain(probabilities, threshold):
    return [int(p.argmax()) if p.max() > threshold else "UNCERTAIN" for p in np.asarray(probabilities)]


def _scan(probabilities, labels, target, *, strict=False, stop_at_miss=False):
    """Every threshold from the most confident down, like the solution, but wrong in one of two ways."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    conf, right = probabilities.max(1), probabilities.argmax(1) == labels
    best = (0.0, None)
    for t in np.unique(conf)[::-1]:
        answered = conf >= t
        accuracy = 100 * right[answered].mean()
        if accuracy > target if strict else accuracy >= target:
            best = (100 * answered.mean(), float(t))
        elif stop_at_miss:
            break
    return best


def _stop_at_first_miss(probabilities, labels, target):
    """Lowers the threshold until accuracy first drops below the target (accuracy is not monotone)."""
    return _scan(probabilities, labels, target, stop_at_miss=True)


def _one_sentence_at_a_time(probabilities, labels, target):
    """Answers the k most confident for every k: splits sentences that share a confidence."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    conf, right = probabilities.max(1), probabilities.argmax(1) == labels
    order = np.argsort(-conf, kind="stable")
    best = (0.0, None)
    for k in range(1, len(order) + 1):
        if 100 * right[order[:k]].mean() >= target:
            best = (100 * k / len(order), float(conf[order[k - 1]]))
    return best


def _strict_target(probabilities, labels, target):
    """Counts a threshold only when accuracy is strictly above the target."""
    return _scan(probabilities, labels, target, strict=True)


def _fraction_coverage(probabilities, labels, target):
    cov, t = _solution_c()["coverage_at_accuracy"](probabilities, labels, target)
    return cov / 100, t


def _solution_c():
    return solution_and_student("reproduce", "reproduce", "abstain")[0]


@pytest.mark.task_c
@pytest.mark.parametrize("wrong", [_stop_at_first_miss, _one_sentence_at_a_time, _fraction_coverage, _strict_target])
def test_c_wrong_answer_loses_points(ex_c, wrong):
    r = checks.check_abstain(ex_c[0]["abstain"], wrong)
    assert 2 <= r.score <= r.max_score - 1, r.report()


@pytest.mark.task_c
def test_c_a_two_class_abstain_loses_the_hidden_cases(ex_c):
    two = lambda p, t: [int(q[1] > q[0]) if max(q) >= t else "UNCERTAIN" for q in np.asarray(p)]  # noqa: E731
    r = checks.check_abstain(two, ex_c[0]["coverage_at_accuracy"])
    assert r.score == r.max_score - 2, r.report()


@pytest.mark.task_c
def test_c_strict_abstain_loses_points(ex_c):
    r = checks.check_abstain(_strict_abstain, ex_c[0]["coverage_at_accuracy"])
    assert 0 < r.score < r.max_score, r.report()


@pytest.mark.task_c
def test_c_odd_return_values_are_scored_not_raised(ex_c):
    for odd in (lambda p, y, t: (50.0, "0.6"), lambda p, y, t: ("x", None), lambda p, y, t: 7,
                lambda p, y, t: np.array([0.0, np.nan]), lambda p, y, t: (np.float64(0.0), None, 1)):
        r = checks.check_abstain(ex_c[0]["abstain"], odd)
        assert r.score <= 3 + 1, r.report()


# ---- the rules the exercise text fixes (issue 12, point 7) -------------------------------------------------

def _wald_unclipped(predictions, labels):
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(predictions) != len(labels):
        raise ValueError("lengths differ")
    p = float((predictions == labels).mean())
    half = 1.96 * np.sqrt(p * (1 - p) / len(labels))
    return 100 * p, 100 * (p - half), 100 * (p + half)


def _strict_threshold(probabilities, threshold):
    return [int(np.argmax(p)) if max(p) > threshold else "UNCERTAIN" for p in np.asarray(probabilities)]


def test_b_wald_interval_loses_points():
    r = checks.check_accuracy_with_interval(_wald_unclipped)
    assert r.score <= 6, r.report()


def test_c_strict_threshold_loses_points(ex_c):
    r = checks.check_abstain(_strict_threshold, ex_c[0]["coverage_at_accuracy"])
    assert r.score < r.max_score, r.report()


def test_c_none_answers_are_scored_not_raised():
    r = checks.check_abstain(lambda p, t: None, lambda p, y, t: None)
    assert r.score == 0, r.report()


@pytest.mark.task_b
def test_b_an_error_that_only_says_valueerror_loses_the_length_point(ex_b, tmp_path):
    """Only a ValueError earns the length rule, in the notebook and through the grader's proxy (where a learner's
    ValueError arrives as one): a RuntimeError whose message starts "ValueError" does not."""
    from rpc_helpers import proxies

    solution = ex_b[0]["accuracy_with_interval"]

    def says_it(predictions, labels):
        if len(predictions) != len(labels):
            raise RuntimeError("ValueError: lengths differ")
        return solution(predictions, labels)

    rule = "rejects predictions and labels of different lengths (ValueError)"
    for fn in (solution, says_it):
        for graded in (fn, proxies(tmp_path, **{fn.__name__: fn})[0]):
            r = checks.check_accuracy_with_interval(graded)
            part = [p for p in r.parts if p[0] == rule]
            assert part and (part[0][1] == part[0][2]) == (fn is solution), (fn.__name__, type(graded), r.report())
            assert r.score == (10 if fn is solution else 9), (type(graded), r.report())


def _threshold_grid(probabilities, labels, target):
    """Scans a fixed grid of thresholds (1.00, 0.99, ...) instead of the confidences that occur."""
    p, y = np.asarray(probabilities), np.asarray(labels)
    conf, right = p.max(1), p.argmax(1) == y
    best = (0.0, None)
    for t in np.round(np.arange(1, -0.001, -0.01), 2):
        answered = conf >= t
        if answered.any() and 100 * right[answered].mean() >= target and 100 * answered.mean() > best[0]:
            best = (100 * answered.mean(), float(t))
    return best


@pytest.mark.task_c
@pytest.mark.parametrize("secret", [None, "another secret", "a third"])
def test_c_a_grid_of_thresholds_loses_the_hidden_cases(ex_c, secret, use_secret):
    use_secret(secret)
    r = checks.check_abstain(ex_c[0]["abstain"], _threshold_grid)
    assert r.score <= r.max_score - 2, r.report()
