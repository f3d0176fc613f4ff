"""Checks for the Orientation level's exercises (solutions/orientation/orientation.ipynb).

Every check calls the learner's function with plain data only, reads the answer by value (a tuple may come
back as a list), never raises, and adds hidden cases drawn from the instructor's secret (:func:`secret_rng`).
"""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import safe_call, secret_rng
from autograder.checks._plain import (as_array, as_float, as_int, brief,
                                       hidden_detail, note_raised, scored, short, unpack)


# ------------------------------------------------------------------------------------------ references
def _label_balance(labels, k):
    return 100.0 * np.bincount(np.asarray(labels, dtype=int), minlength=k)[:k] / len(labels)


def _majority(train, evaluation):
    label = int(np.bincount(np.asarray(train, dtype=int)).argmax())
    return label, 100.0 * float((np.asarray(evaluation) == label).mean())


def _sentences_needed(points, n):
    return max(0, math.ceil(points * n / 100 - 1e-9))


# ------------------------------------------------------------------------------------------------ (a)
@scored("label balance (label_balance)")
def check_label_balance(r, label_balance):
    """(a) the percentage of labels in each class."""
    labels = np.array([1, 0, 1, 1, 2, 1, 0, 1])  # 2 / 5 / 1 of 8
    want = np.array([25.0, 62.5, 12.5])
    d = "percentages per class, in class-id order (3 classes)"
    ok, out = safe_call(r, d, 4, label_balance, labels, 3)
    if ok:
        got = as_array(out, shape=(3,))
        fraction = got is not None and np.allclose(got * 100, want)
        r.add(d, got is not None and np.allclose(got, want), 4, f"got {short(out)}, expected {want.tolist()}"
              + (" (percent, not fractions: multiply by 100)" if fraction else ""))
    d = "a class that never occurs gets 0 (length num_classes)"
    ok, out = safe_call(r, d, 2, label_balance, [0, 0, 2, 0], 4)
    if ok:
        got = as_array(out, shape=(4,))
        r.add(d, got is not None and np.allclose(got, [75, 0, 25, 0]), 2,
              f"got {short(out)}, expected [75, 0, 25, 0] (class 1 never occurs, class 2 keeps its place): "
              "use np.bincount(labels, minlength=num_classes)")
    d = "works on the real label lists (lists of ints, 872 SST-2-like labels), summing to 100"
    labels = [1] * 444 + [0] * 428
    ok, out = safe_call(r, d, 2, label_balance, labels, 2)
    if ok:
        got = as_array(out, shape=(2,))
        r.add(d, got is not None and np.allclose(got, [100 * 428 / 872, 100 * 444 / 872])
              and abs(got.sum() - 100) < 1e-6, 2, f"got {short(out)}; expected [49.08, 50.92] summing to 100")
    d = "hidden cases (drawn from the instructor's secret)"
    rng = secret_rng("check_label_balance")
    good, detail = True, ""
    for _ in range(3):
        k = int(rng.integers(2, 7))
        ids = np.arange(k)
        if rng.random() < 0.7:  # usually one class id never occurs: any of them, the first and middle ones too
            ids = np.delete(ids, int(rng.integers(0, k)))
        labels = rng.choice(ids, size=int(rng.integers(5, 60)))
        inputs = (lambda: f"label_balance(labels, {k}) with labels (n={len(labels)})={brief(labels)}")
        ok, out = safe_call(r, d, 2, label_balance, labels, k)
        if not ok:
            return note_raised(r, d, inputs)
        got = as_array(out, shape=(k,))
        if got is None or not np.allclose(got, _label_balance(labels, k)):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; "
                                   f"expected {brief(_label_balance(labels, k))}")
            break
    r.add(d, good, 2, "wrong on labels the visible cases do not show; percentages of each of the "
          "num_classes ids, 0 for an id that never occurs", detail=detail)


# ------------------------------------------------------------------------------------------------ (b)
def _whole(x):
    """An int from an int or a whole float (``5.0``, ``np.float64(5.0)``: what ``np.ceil`` returns), else None."""
    value = as_int(x)
    if value is None:
        f = as_float(x)
        value = int(f) if f is not None and math.isfinite(f) and f == int(f) else None
    return value


def _pair(out):
    """(int label, float accuracy) or (None, None)."""
    pair = unpack(out, 2)
    if pair is None:
        return None, None
    return _whole(pair[0]), as_float(pair[1])  # a whole float label (e.g. 1.0 from a proxy) still names the class


@scored("majority baseline (majority_baseline)")
def check_majority_baseline(r, majority_baseline):
    """(b) the majority label from the training labels, and its accuracy on the evaluation labels."""
    train = np.array([0] * 30 + [1] * 70)
    evaluation = np.array([0] * 60 + [1] * 40)  # the evaluation majority is the other label
    d = "the label comes from the training labels, not the evaluation labels"
    ok, out = safe_call(r, d, 3, majority_baseline, train, evaluation)
    if ok:
        label, acc = _pair(out)
        if label is None or acc is None:
            r.add(d, False, 3, f"got {short(out)}: return a tuple (label, accuracy)")
            r.add("accuracy in percent of always predicting that label", False, 2, "no accuracy to read")
        else:
            r.add(d, label == 1, 3, f"got label {label}; the majority of the *training* labels is 1 "
                  "(choosing it from the evaluation labels peeks at the answers)")
            r.add("accuracy in percent of always predicting that label", abs(acc - 40.0) < 1e-4, 2,
                  f"got {acc!r}, expected 40.0" + (" (percent, not a fraction)" if abs(acc - 0.4) < 1e-6 else ""))
    d = "a tie goes to the smaller label id, even when the larger one comes first"
    ok, out = safe_call(r, d, 3, majority_baseline, [3, 2, 3, 2, 0], [2, 2, 3, 1])
    if ok:
        label, acc = _pair(out)
        r.add(d, label == 2 and acc is not None and abs(acc - 50.0) < 1e-4, 3,
              f"got {short(out)}, expected (2, 50.0): on a tie take the smaller id (np.bincount(...).argmax() does; "
              "Counter.most_common and statistics.mode take the first one seen)")
    d = "hidden cases with ties (drawn from the instructor's secret)"
    rng = secret_rng("check_majority_baseline")
    good, detail = True, ""
    for _ in range(3):
        k = int(rng.integers(3, 7))
        a, b = sorted(rng.choice(k, size=2, replace=False).tolist())
        top = int(rng.integers(3, 8))
        others = [c for c in range(k) if c not in (a, b)]
        extra = rng.choice(others, size=int(rng.integers(0, top)), replace=True).tolist()  # fewer than top each
        train = [a] * top + [b] * (top - 1) + extra
        rng.shuffle(train)
        train = [b] + [int(x) for x in train]  # an exact a/b tie, and the larger id b comes first
        evaluation = [int(x) for x in rng.integers(0, k, size=int(rng.integers(5, 40)))]
        inputs = (lambda: f"majority_baseline(train, evaluation) with train (n={len(train)}, tie {a}/{b} at {top} "
                  f"each)={brief(train)}, evaluation (n={len(evaluation)})={brief(evaluation)}")
        ok, out = safe_call(r, d, 2, majority_baseline, train, evaluation)
        if not ok:
            return note_raised(r, d, inputs)
        label, acc = _pair(out)
        want_label, want_acc = _majority(train, evaluation)
        if label != want_label or acc is None or abs(acc - want_acc) > 1e-4:   # float32 arithmetic is right too
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; expected ({want_label}, "
                                   f"{brief(want_acc)})")
            break
    r.add(d, good, 2, "wrong on hidden tied cases: the most common training label, the smaller id on a tie, "
          "and its accuracy in percent on the evaluation labels", detail=detail)


# ------------------------------------------------------------------------------------------------ (c)
@scored("what one sentence is worth (sentences_needed)")
def check_sentences_needed(r, sentences_needed):
    """(c) how many sentences make a given number of percentage points."""
    cases = [((0.5, 872), 5, 2, "0.5 points on 872 sentences is 4.36 sentences: at least 5 (round up)"),
             ((1.0, 3080), 31, 1, "1 point on 3,080 sentences is 30.8: 31"),
             ((2, 100), 2, 2, "2 points on 100 sentences is exactly 2 (no rounding up of an exact count)"),
             ((100 / 11, 11), 1, 1, "100/11 points on 11 sentences is exactly one sentence, though "
                                    "(100 / 11) * 11 / 100 is 1.0000000000000002 in floating point"),
             ((0.115, 872), 2, 1, "0.115 points is a hair more than one sentence on 872 (100/872 = 0.1147): 2"),
             ((0, 872), 0, 1, "0 points need 0 sentences")]
    for (points, n), want, pts, why in cases:
        d = f"sentences_needed({points}, {n}) == {want}"
        ok, out = safe_call(r, d, pts, sentences_needed, points, n)
        if ok:
            r.add(d, _whole(out) == want, pts, f"got {short(out)}: {why}")
    d = "hidden cases (drawn from the instructor's secret)"
    rng = secret_rng("check_sentences_needed")
    good, detail = True, ""
    for case in range(4):
        n = int(rng.integers(50, 5000))
        k = int(rng.integers(1, n // 3))
        if case == 0:  # an exact count whose float product lands a hair above it: math.ceil alone says k + 1
            for _ in range(1000):
                if math.ceil((100 * k / n) * n / 100) > k:
                    break
                n = int(rng.integers(50, 5000))
                k = int(rng.integers(1, n // 3))
            points = 100 * k / n
        elif rng.random() < 0.5:
            points = round(100 * (k - float(rng.uniform(0.05, 0.95))) / n, 6)  # a fraction of a sentence: round up
        else:
            points = 100 * k / n  # exact: no rounding up (the float may sit a hair above k)
        want = _sentences_needed(points, n)
        # points in full (repr): whether it sits a hair above k sentences is the case
        inputs = (lambda: f"sentences_needed({points!r}, {n})")
        ok, out = safe_call(r, d, 2, sentences_needed, points, n)
        if not ok:
            return note_raised(r, d, inputs)
        if _whole(out) != want:
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; expected {want}")
            break
    r.add(d, good, 2, "wrong on hidden cases: the smallest whole number of sentences whose share of n is at "
          "least `points` (math.ceil, minding exact counts)", detail=detail)
