"""Orientation level: for every graded exercise, the solution gets full marks, the blank student version gets
zero, and plausible wrong answers lose points. Functions come from the notebooks' cells, not copies."""
from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.checks import orientation as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student


@pytest.fixture(scope="module")
def ex():
    return {gid: solution_and_student("orientation", "orientation", gid)
            for gid in ("label_balance", "majority_baseline", "sentences_needed")}


def test_a_label_balance(ex):
    assert_full_marks_and_blank_zero(checks.check_label_balance, ex["label_balance"], ("label_balance",))


def _fractions(labels, num_classes):
    return np.bincount(np.asarray(labels), minlength=num_classes)[:num_classes] / len(labels)


def _seen_classes_only(labels, num_classes):
    labels = np.asarray(labels)
    return np.array([100 * (labels == c).mean() for c in np.unique(labels)])


@pytest.mark.parametrize("wrong", [_fractions, _seen_classes_only])
def test_a_wrong_answers_lose_points(wrong):
    r = checks.check_label_balance(wrong)
    assert r.score < r.max_score, r.report()


def test_b_majority_baseline(ex):
    assert_full_marks_and_blank_zero(checks.check_majority_baseline, ex["majority_baseline"], ("majority_baseline",))


def _peeks_at_eval(train_labels, eval_labels):
    label = int(np.bincount(np.asarray(eval_labels)).argmax())
    return label, 100 * float((np.asarray(eval_labels) == label).mean())


def _fraction_accuracy(train_labels, eval_labels):
    label = int(np.bincount(np.asarray(train_labels)).argmax())
    return label, float((np.asarray(eval_labels) == label).mean())


@pytest.mark.parametrize("wrong,max_expected", [(_peeks_at_eval, 3), (_fraction_accuracy, 7)])
def test_b_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_majority_baseline(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_c_sentences_needed(ex):
    assert_full_marks_and_blank_zero(checks.check_sentences_needed, ex["sentences_needed"], ("sentences_needed",))


@pytest.mark.parametrize("wrong", [lambda p, n: round(p * n / 100), lambda p, n: int(p * n / 100),
                                   lambda p, n: p * n / 100, lambda p, n: math.ceil(p * n / 100) + 0.0,
                                   lambda p, n: math.ceil(p * n / 100) + 1.0])
def test_c_wrong_answers_lose_points(wrong):
    r = checks.check_sentences_needed(wrong)
    assert r.score < r.max_score, r.report()


def test_orientation_stage_passes_the_majority_baseline():
    from autograder.stages import get_stage

    stage = get_stage("orientation")
    assert stage.passed(100 * 444 / 872) and not stage.passed(100 * 446 / 872)


# ---- the rules the exercise text fixes (issue 12, point 7) -------------------------------------------------

def _first_seen_on_tie(train_labels, eval_labels):
    from collections import Counter

    label = Counter(int(x) for x in train_labels).most_common(1)[0][0]  # a tie goes to the first one seen
    return label, 100 * float((np.asarray(eval_labels) == label).mean())


def _statistics_mode(train_labels, eval_labels):
    import statistics

    label = int(statistics.mode([int(x) for x in train_labels]))
    return label, 100 * float((np.asarray(eval_labels) == label).mean())


@pytest.mark.parametrize("wrong", [_first_seen_on_tie, _statistics_mode])
def test_b_tie_breaking_is_enforced(wrong):
    r = checks.check_majority_baseline(wrong)
    assert r.score <= 5, r.report()


def _rounded_to_nearest(points, n):
    return int(round(points * n / 100))


def _always_plus_one(points, n):
    return int(points * n / 100) + 1 if points else 0


def _float_answer(points, n):
    return float(math.ceil(points * n / 100 - 1e-9))


def _naive_ceil(points, n):
    return math.ceil(points * n / 100)


@pytest.mark.parametrize("wrong", [_rounded_to_nearest, _always_plus_one, _naive_ceil])
def test_c_rounding_is_enforced(wrong):
    r = checks.check_sentences_needed(wrong)
    assert r.score < r.max_score, r.report()


def test_c_a_whole_float_is_a_whole_number():
    """np.ceil returns a float: the right count as 5.0 is the right count (as (b) takes a whole float label)."""
    for fn in (_float_answer, lambda p, n: np.ceil(p * n / 100 - 1e-9)):
        r = checks.check_sentences_needed(fn)
        assert r.score == r.max_score, r.report()


def _percent_of_classes_seen_padded(labels, num_classes):
    """Percentages of the classes that occur, zeros appended at the end: right only when the missing ids are last."""
    from collections import Counter
    counts = Counter(int(x) for x in labels)
    pct = [100 * counts[c] / len(labels) for c in sorted(counts)]
    return np.array(pct + [0.0] * (num_classes - len(pct)))


def test_a_a_missing_first_or_middle_class_is_checked():
    r = checks.check_label_balance(_percent_of_classes_seen_padded)
    assert r.score <= 6, r.report()


@pytest.mark.parametrize("secret", [None, "another secret", "a third"])
def test_c_the_float_trap_is_in_the_hidden_cases_too(secret, use_secret):
    """math.ceil(points * n / 100) is wrong where the product lands a hair above a whole count: the visible 100/11
    case and a hidden case built to land there both catch it, under any secret."""
    use_secret(secret)
    r = checks.check_sentences_needed(_naive_ceil)
    assert r.score <= r.max_score - 3, r.report()
