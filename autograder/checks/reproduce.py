"""Checks for the Reproduce level's exercises (solutions/reproduce/reproduce.ipynb)."""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import CheckResult, safe_call
from textclass.evaluate import coverage_accuracy, wilson_interval

_SENTENCES = ["a fine film .", "dull", "it 's a charming and often affecting journey .", "bleak", "",
              "the acting is superb but the script is lifeless and flat .", "wow", "not bad at all", "meh .",
              "an utterly forgettable , paint-by-numbers thriller", "great", "sly and wise"]


class _Recorder:
    """A fake ``classify_batch``: remembers every batch it got; class-1 probability encodes the sentence."""

    def __init__(self):
        self.calls = []

    def __call__(self, batch):
        batch = list(batch)
        self.calls.append(batch)
        p = np.array([(len(s) % 7) / 10 + 0.2 for s in batch])
        return np.stack([1 - p, p], axis=1)


def _expected(sentences):
    p = np.array([(len(s) % 7) / 10 + 0.2 for s in sentences])
    return np.stack([1 - p, p], axis=1)


def check_evaluate_in_batches(evaluate_in_batches) -> CheckResult:
    """(a) the evaluation loop: batches of at most ``batch_size``, length-sorted, results in input order."""
    r = CheckResult("evaluation loop (evaluate_in_batches)", 10)
    rec = _Recorder()
    ok, out = safe_call(r, "returns one probability row per sentence, in the input order", 4,
                        evaluate_in_batches, rec, _SENTENCES, 5)
    if ok:
        out = np.asarray(out, dtype=float) if out is not None else None
        r.add("returns one probability row per sentence, in the input order", out is not None and
              out.shape == (len(_SENTENCES), 2) and np.allclose(out, _expected(_SENTENCES)), 4,
              "row i must be the probabilities of sentences[i]: after sorting by length, put results back")
        sizes = [len(c) for c in rec.calls]
        r.add("never sends more than batch_size sentences at once, and each sentence exactly once",
              bool(sizes) and max(sizes) <= 5 and sorted(sum(rec.calls, [])) == sorted(_SENTENCES)
              and len(rec.calls) == math.ceil(len(_SENTENCES) / 5), 2,
              f"got batches of sizes {sizes} for 12 sentences and batch_size=5 (expected 5, 5, 2)")
        flat = [len(s) for s in sum(rec.calls, [])]
        r.add("feeds the sentences shortest first (length-sorted batches pad less)", flat == sorted(flat), 2,
              "sort the sentence indices by len(sentence) before cutting them into batches")
    rec2 = _Recorder()
    ok, out = safe_call(r, "works for batch_size=1 and batch sizes larger than the data", 2,
                        lambda: (evaluate_in_batches(rec2, _SENTENCES[:3], 1),
                                 evaluate_in_batches(_Recorder(), _SENTENCES[:3], 100)))
    if ok:
        a, b = (np.asarray(x, dtype=float) for x in out)
        r.add("works for batch_size=1 and batch sizes larger than the data",
              np.allclose(a, _expected(_SENTENCES[:3])) and np.allclose(b, _expected(_SENTENCES[:3]))
              and len(rec2.calls) == 3, 2, "every sentence must come back, whatever the batch size")
    return r


def check_accuracy_with_interval(accuracy_with_interval) -> CheckResult:
    """(b) accuracy in percent with a 95% Wilson interval."""
    r = CheckResult("accuracy and its 95% interval (accuracy_with_interval)", 10)
    labels = np.array([1, 0] * 436)
    preds = labels.copy()
    preds[:78] = 1 - preds[:78]  # 794/872 correct, the model card's figure
    ok, out = safe_call(r, "accuracy in percent (794/872 -> 91.06)", 3, accuracy_with_interval, preds, labels)
    if ok:
        try:
            acc, lo, hi = (float(x) for x in out)
        except (TypeError, ValueError):
            r.add("accuracy in percent (794/872 -> 91.06)", False, 3, "return a tuple (accuracy, low, high)")
            acc = lo = hi = float("nan")
        else:
            r.add("accuracy in percent (794/872 -> 91.06)", abs(acc - 100 * 794 / 872) < 1e-6, 3,
                  f"got {acc!r}; accuracy = 100 * correct / n" + (" (percent, not a fraction)" if acc < 1.01 else ""))
        wl, wh = (100 * x for x in wilson_interval(794, 872))
        exact = abs(lo - wl) < 0.01 and abs(hi - wh) < 0.01
        close = abs(lo - wl) < 0.5 and abs(hi - wh) < 0.5 and lo < acc < hi
        r.add("95% Wilson interval at 794/872", exact, 3,
              f"got [{lo:.3f}, {hi:.3f}], expected [{wl:.3f}, {wh:.3f}]")
        # a normal (Wald) interval is close at n=872 but not right: it keeps only this point
        r.add("an interval of roughly the right width around the accuracy", exact or close, 1,
              "the interval must contain the accuracy and be about +-1.9 points wide at n=872")
    ok, out = safe_call(r, "stays inside [0, 100] at 100% accuracy (where the Wald interval collapses)", 2,
                        accuracy_with_interval, np.ones(20, int), np.ones(20, int))
    if ok:
        acc, lo, hi = (float(x) for x in out)
        wl, _ = wilson_interval(20, 20)
        r.add("stays inside [0, 100] at 100% accuracy (where the Wald interval collapses)",
              acc == 100 and hi <= 100 + 1e-9 and abs(lo - 100 * wl) < 0.01, 2,
              f"got ({acc}, {lo}, {hi}); Wilson gives [{100 * wl:.2f}, 100] for 20/20")
    try:
        accuracy_with_interval(np.ones(3, int), np.ones(4, int))
        r.add("rejects predictions and labels of different lengths (ValueError)", False, 1,
              "raise ValueError when len(predictions) != len(labels)")
    except ValueError:
        r.add("rejects predictions and labels of different lengths (ValueError)", True, 1)
    except Exception as exc:  # noqa: BLE001
        r.add("rejects predictions and labels of different lengths (ValueError)", False, 1,
              f"raised {type(exc).__name__}, expected ValueError")
    return r


def check_abstention(abstain, coverage_and_accuracy) -> CheckResult:
    """(c) answer only when confident: labels or "UNCERTAIN", then coverage and accuracy on the answered."""
    r = CheckResult("abstaining below a confidence threshold (abstain, coverage_and_accuracy)", 10)
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7], [0.7, 0.3], [0.05, 0.95]])
    labels = np.array([0, 1, 0, 1, 1, 1, 1])
    ok, out = safe_call(r, "labels when confident, 'UNCERTAIN' otherwise", 3, abstain, probs, 0.65)
    if ok:
        want = [0, "UNCERTAIN", 1, "UNCERTAIN", 1, 0, 1]
        got = [x if isinstance(x, str) else int(x) for x in out]
        r.add("labels when confident, 'UNCERTAIN' otherwise", got == want, 3, f"got {got}, expected {want}")
    ok, out = safe_call(r, "a confidence exactly at the threshold is answered", 1, abstain, probs, 0.7)
    if ok:
        r.add("a confidence exactly at the threshold is answered", out[4] == 1 and out[5] == 0, 1,
              "use >= threshold: 0.7 at threshold 0.7 is answered")
    ok, out = safe_call(r, "coverage in percent", 2, coverage_and_accuracy, probs, labels, 0.65)
    if ok:
        cov, acc = (float(x) for x in out)
        want_cov, want_acc = (100 * x[0] for x in coverage_accuracy(probs, labels, [0.65]))
        r.add("coverage in percent", abs(cov - want_cov) < 1e-6, 2, f"got {cov}, expected {want_cov:.4f} (5 of 7)")
        r.add("accuracy counts only the answered sentences", abs(acc - want_acc) < 1e-6, 3,
              f"got {acc}, expected {want_acc:.4f} (4 of the 5 answered are right)")
    ok, out = safe_call(r, "nothing answered: coverage 0 and accuracy nan (not a crash)", 1,
                        coverage_and_accuracy, probs, labels, 0.99)
    if ok:
        cov, acc = (float(x) for x in out)
        r.add("nothing answered: coverage 0 and accuracy nan (not a crash)", cov == 0 and math.isnan(acc), 1,
              f"got ({cov}, {acc})")
    return r
