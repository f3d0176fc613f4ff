"""Checks for the Zero-shot level's exercises (solutions/zeroshot/zeroshot.ipynb)."""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import CheckResult, safe_call
from textclass import zeroshot as zs
from textclass.evaluate import coverage_accuracy

BASELINE = 70.6  # all-MiniLM-L6-v2 with "This is a negative/positive review." on SST-2 validation


def check_cosine_scores(cosine_scores) -> CheckResult:
    """(a) the (n, k) matrix of cosine similarities, for inputs that are not normalised."""
    r = CheckResult("cosine scorer (cosine_scores)", 10)
    rng = np.random.RandomState(0)
    s = rng.randn(6, 5) * rng.uniform(0.1, 10, size=(6, 1))  # rows of very different lengths
    l = rng.randn(3, 5) * np.array([[0.2], [1.0], [7.0]])
    want = zs.cosine_scores(s, l)
    d = "shape (n sentences, k classes)"
    ok, out = safe_call(r, d, 2, cosine_scores, s, l)
    if ok:
        got = np.asarray(out, dtype=float) if out is not None else np.zeros(0)
        r.add(d, got.shape == (6, 3), 2, f"got shape {got.shape}, expected (6, 3): sentences x classes")
        good = got.shape == (6, 3) and np.allclose(got, want, atol=1e-5)
        dot = got.shape == (6, 3) and np.allclose(got, s @ l.T, atol=1e-5)
        r.add("cosine similarity, normalising both sides", good, 5,
              "divide each row by its length (np.linalg.norm(..., axis=1, keepdims=True)) before the dot product"
              + (" -- you returned raw dot products" if dot else ""))
        r.add("values lie in [-1, 1]", got.size > 0 and np.all(np.abs(got) <= 1 + 1e-6), 1,
              "cosine similarities are between -1 and 1")
    d = "scale-invariant and works for one sentence / one class"
    ok, out = safe_call(r, d, 2, cosine_scores, np.array([[3.0, 4.0]]), np.array([[0.6, 0.8], [-4.0, 3.0]]))
    if ok:
        got = np.asarray(out, dtype=float)
        r.add(d, got.shape == (1, 2) and np.allclose(got, [[1.0, 0.0]], atol=1e-6), 2,
              f"got {got.tolist()}, expected [[1.0, 0.0]]")
    return r


def check_label_descriptions(my_label_descriptions, encode, sentences, labels, baseline: float = BASELINE
                             ) -> CheckResult:
    """(b) several descriptions per class, averaged (the reference ``class_embeddings``), beat the baseline.

    ``encode`` is all-MiniLM-L6-v2 (``list of str -> array``); ``sentences``/``labels`` SST-2 validation.
    Full marks at >= baseline + 1 point; the score falls linearly to 0 at 5 points below that.
    """
    r = CheckResult("engineered label descriptions (my_label_descriptions)", 10)
    d = "two classes, at least two non-empty descriptions each"
    ok, out = safe_call(r, d, 2, my_label_descriptions)
    if not ok:
        r.add(f"beats the baseline {baseline}% on SST-2 validation with all-MiniLM-L6-v2", False, 8,
              "no descriptions to score")
        return r
    shaped = (isinstance(out, (list, tuple)) and len(out) == 2 and all(
        isinstance(c, (list, tuple)) and len(c) >= 2 and all(isinstance(x, str) and x.strip() for x in c)
        for c in out))
    r.add(d, shaped, 2, "return [[negative descriptions...], [positive descriptions...]], two or more each")
    if not (isinstance(out, (list, tuple)) and len(out) == 2 and all(
            (isinstance(c, str) and c.strip()) or (isinstance(c, (list, tuple)) and c and
                                                   all(isinstance(x, str) for x in c)) for c in out)):
        r.add(f"beats the baseline {baseline}% on SST-2 validation with all-MiniLM-L6-v2", False, 8,
              "cannot score these descriptions")
        return r
    sentence_set = {s.strip().lower() for s in sentences}
    leaked = [x for c in out for x in ([c] if isinstance(c, str) else c) if x.strip().lower() in sentence_set]
    if leaked:
        r.add("descriptions are not validation sentences", False, 0, f"{len(leaked)} description(s) are copied "
              "from SST-2 validation; describe the classes instead (no points for accuracy)")
        r.add(f"beats the baseline {baseline}% on SST-2 validation with all-MiniLM-L6-v2", False, 8,
              "validation sentences used as descriptions")
        return r
    emb = np.asarray(encode(list(sentences)))
    preds, _ = zs.zero_shot_predict(emb, encode, out)
    acc = 100 * float((preds == np.asarray(labels)).mean())
    target = baseline + 1.0
    earned = 8.0 if acc >= target else max(0.0, 8.0 * (1 - (target - acc) / 5.0))
    r.parts.append((f"beats the baseline {baseline}% on SST-2 validation with all-MiniLM-L6-v2 "
                    f"(got {acc:.2f}%, full marks at >= {target:.1f}%)", round(earned, 2), 8.0,
                    "" if earned >= 8 else "try sentences that look like movie reviews, several per class"))
    return r


def check_probabilities_and_coverage(softmax_with_temperature, coverage_curve) -> CheckResult:
    """(c) temperature softmax (stable), and coverage / accuracy on the answered for several thresholds."""
    r = CheckResult("probabilities and abstention (softmax_with_temperature, coverage_curve)", 10)
    scores = np.array([[0.30, 0.10], [0.20, 0.25], [0.50, 0.48], [0.05, 0.40]])
    d = "rows are probabilities: softmax(scores / temperature)"
    ok, out = safe_call(r, d, 2, softmax_with_temperature, scores, 0.1)
    if ok:
        got = np.asarray(out, dtype=float)
        r.add(d, got.shape == scores.shape and np.allclose(got, zs.softmax(scores, 0.1), atol=1e-6), 2,
              "p_k = exp(s_k / T) / sum_j exp(s_j / T), row by row")
    d = "the temperature sharpens: T = 1 is nearly uniform, T = 0.01 nearly one-hot"
    ok, out = safe_call(r, d, 1, lambda: (softmax_with_temperature(scores, 1.0), softmax_with_temperature(scores, 0.01)))
    if ok:
        a, b = (np.asarray(x, dtype=float) for x in out)
        r.add(d, np.allclose(a, zs.softmax(scores, 1.0), atol=1e-6) and np.allclose(b, zs.softmax(scores, 0.01),
                                                                                    atol=1e-6), 1,
              "divide the scores by the temperature before exp")
    d = "numerically stable for tiny temperatures (no nan or inf)"
    ok, out = safe_call(r, d, 2, softmax_with_temperature, np.array([[0.9, 0.8], [0.99, 0.2]]), 1e-4)
    if ok:
        got = np.asarray(out, dtype=float)
        r.add(d, np.all(np.isfinite(got)) and np.allclose(got, [[1, 0], [1, 0]], atol=1e-6), 2,
              "subtract each row's maximum before exp")
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7], [0.7, 0.3], [0.05, 0.95]])
    labels = np.array([0, 1, 0, 1, 1, 1, 1])
    thresholds = [0.5, 0.65, 0.7, 0.99]
    d = "coverage in percent per threshold (>= threshold is answered)"
    ok, out = safe_call(r, d, 2, coverage_curve, probs, labels, thresholds)
    if ok:
        try:
            cov, acc = (np.asarray(x, dtype=float) for x in out)
        except (TypeError, ValueError):
            cov = acc = np.zeros(0)
        want_cov, want_acc = (100 * x for x in coverage_accuracy(probs, labels, thresholds))
        r.add(d, cov.shape == (4,) and np.allclose(cov, want_cov), 2, f"got {cov.tolist()}, expected "
              f"{np.round(want_cov, 2).tolist()}" + (" (percent, not fractions)" if np.allclose(cov * 100, want_cov)
                                                    else ""))
        good = acc.shape == (4,) and np.allclose(acc[:3], want_acc[:3])
        r.add("accuracy counts only the answered sentences, in percent", good, 2,
              f"got {acc.tolist()}, expected {np.round(want_acc, 2).tolist()}")
        r.add("nothing answered: accuracy nan, not a crash or 0", acc.shape == (4,) and math.isnan(acc[3]), 1,
              "when no sentence reaches the threshold, accuracy is float('nan')")
    return r


def check_intent_description(intent_description) -> CheckResult:
    """(d) intent names as words."""
    r = CheckResult("intent names as words (intent_description)", 10)
    cases = [("card_arrival", "card arrival", 2, "underscores become spaces"),
             ("Refund_not_showing_up", "refund not showing up", 2, "lower case"),
             ("reverted_card_payment?", "reverted card payment", 2, "drop the question mark, no trailing space"),
             ("balance_not_updated_after_cheque_or_cash_deposit", "balance not updated after cheque or cash deposit",
              2, "every underscore"),
             ("_why__verify_identity?_", "why verify identity", 2, "collapse runs of spaces, strip both ends")]
    for name, want, pts, why in cases:
        d = f"intent_description({name!r}) == {want!r}"
        ok, out = safe_call(r, d, pts, intent_description, name)
        if ok:
            r.add(d, out == want, pts, f"got {out!r}: {why}")
    return r
