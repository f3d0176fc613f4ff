"""Checks for the Orientation level's exercises (solutions/orientation/orientation.ipynb)."""
from __future__ import annotations

import numpy as np

from autograder.checks import CheckResult, safe_call


def _array(out):
    try:
        return np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        return None


def check_label_balance(label_balance) -> CheckResult:
    """(a) the percentage of labels in each class."""
    r = CheckResult("label balance (label_balance)", 10)
    labels = np.array([1, 0, 1, 1, 2, 1, 0, 1])  # 2 / 5 / 1 of 8
    want = np.array([25.0, 62.5, 12.5])
    d = "percentages per class, in class-id order (3 classes)"
    ok, out = safe_call(r, d, 4, label_balance, labels, 3)
    if ok:
        got = _array(out)
        fraction = got is not None and got.shape == (3,) and np.allclose(got * 100, want)
        r.add(d, got is not None and got.shape == (3,) and np.allclose(got, want), 4,
              f"got {out!r}, expected {want.tolist()}" + (" (percent, not fractions: multiply by 100)" if fraction else ""))
    d = "a class that never occurs gets 0 (length num_classes)"
    ok, out = safe_call(r, d, 3, label_balance, [0, 0, 1, 0], 4)
    if ok:
        got = _array(out)
        r.add(d, got is not None and got.shape == (4,) and np.allclose(got, [75, 25, 0, 0]), 3,
              f"got {out!r}, expected [75, 25, 0, 0]: use np.bincount(labels, minlength=num_classes)")
    d = "works on the real label lists (lists of ints, 872 SST-2-like labels)"
    labels = [1] * 444 + [0] * 428
    ok, out = safe_call(r, d, 3, label_balance, labels, 2)
    if ok:
        got = _array(out)
        r.add(d, got is not None and got.shape == (2,) and np.allclose(got, [100 * 428 / 872, 100 * 444 / 872])
              and abs(got.sum() - 100) < 1e-6, 3, f"got {out!r}; expected [49.08, 50.92] summing to 100")
    return r


def check_majority_baseline(majority_baseline) -> CheckResult:
    """(b) the majority label from the training labels, and its accuracy on the evaluation labels."""
    r = CheckResult("majority baseline (majority_baseline)", 10)
    train = np.array([0] * 30 + [1] * 70)
    evaluation = np.array([0] * 60 + [1] * 40)  # the evaluation majority is the other label
    d = "the label comes from the training labels, not the evaluation labels"
    ok, out = safe_call(r, d, 4, majority_baseline, train, evaluation)
    if ok:
        try:
            label, acc = out
            label, acc = int(label), float(acc)
        except (TypeError, ValueError):
            r.add(d, False, 4, "return a tuple (label, accuracy)")
        else:
            r.add(d, label == 1, 4, f"got label {label}; the majority of the *training* labels is 1 "
                  "(choosing it from the evaluation labels peeks at the answers)")
            r.add("accuracy in percent of always predicting that label", abs(acc - 40.0) < 1e-6, 3,
                  f"got {acc!r}, expected 40.0" + (" (percent, not a fraction)" if abs(acc - 0.4) < 1e-6 else ""))
    d = "a tie goes to the smaller label id; several classes"
    ok, out = safe_call(r, d, 3, majority_baseline, [2, 3, 3, 2, 0], [2, 2, 3, 1])
    if ok:
        try:
            label, acc = int(out[0]), float(out[1])
        except (TypeError, ValueError, IndexError):
            label, acc = None, None
        r.add(d, label == 2 and acc is not None and abs(acc - 50.0) < 1e-6, 3,
              f"got {out!r}, expected (2, 50.0)")
    return r


def check_sentences_needed(sentences_needed) -> CheckResult:
    """(c) how many sentences make a given number of percentage points."""
    r = CheckResult("what one sentence is worth (sentences_needed)", 10)
    cases = [((0.5, 872), 5, 3, "0.5 points on 872 sentences is 4.36 sentences: at least 5 (round up)"),
             ((1.0, 3080), 31, 2, "1 point on 3,080 sentences is 30.8: 31"),
             ((2, 100), 2, 2, "2 points on 100 sentences is exactly 2 (no rounding up of an exact count)"),
             ((0.115, 872), 2, 2, "0.115 points is a hair more than one sentence on 872 (100/872 = 0.1147): 2"),
             ((0, 872), 0, 1, "0 points need 0 sentences")]
    for (points, n), want, pts, why in cases:
        d = f"sentences_needed({points}, {n}) == {want}"
        ok, out = safe_call(r, d, pts, sentences_needed, points, n)
        if ok:
            r.add(d, isinstance(out, (int, np.integer)) and not isinstance(out, bool) and int(out) == want, pts,
                  f"got {out!r}: {why}" + ("; return a whole number (int)" if isinstance(out, float) else ""))
    return r
