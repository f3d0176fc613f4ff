"""Checks for the Reproduce level's exercises (solutions/reproduce/reproduce.ipynb).

Every check calls the learner's function with plain data only (the evaluation loop, which takes a callable,
runs in the harness ``autograder.harnesses.reproduce.batches``), reads the answer by value, never raises, and
adds hidden cases drawn from the instructor's secret (:func:`secret_rng`).
"""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
from autograder.rpc import RemoteError
from autograder.checks._plain import (as_array, as_float, brief, close, harness_dict,
                                       hidden_detail, note_raised, scored, short, unpack)
from autograder.harnesses import reproduce as harnesses

_SENTENCES = ["a fine film .", "dull", "it 's a charming and often affecting journey .", "bleak", "",
              "the acting is superb but the script is lifeless and flat .", "wow", "not bad at all", "meh .",
              "an utterly forgettable , paint-by-numbers thriller", "great", "sly and wise"]
_WORDS = ["a", "film", "dull", "not", "bad", "great", "the", "plot", "is", "thin", "but", "warm", ",", "."]


def _expected(sentences):
    p = np.array([(len(s) % 7) / 10 + 0.2 for s in sentences])
    return np.stack([1 - p, p], axis=1)


def _batches(r, description, points, evaluate_in_batches, sentences, batch_size):
    """Run the harness; (rows array or None, calls) or None when the learner's function raised."""
    ok, out = safe_call(r, description, points, run_in_harness, evaluate_in_batches, harnesses.batches,
                        sentences=list(sentences), batch_size=int(batch_size))
    if not ok:
        return None
    res = harness_dict(out, "rows", "calls")
    if res is None:
        return None, []
    rows = as_array(res["rows"], shape=(len(sentences), 2))
    calls = res["calls"] if isinstance(res["calls"], list) else []
    return rows, [list(c) for c in calls if isinstance(c, (list, tuple))]


def _wilson(k, n, z=1.959964):
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def _abstain(probs, t):
    return [int(p.argmax()) if p.max() >= t else "UNCERTAIN" for p in np.asarray(probs)]


def _coverage_at(probs, labels, target):
    """(coverage %, threshold) of the lowest confidence threshold whose answered sentences reach ``target``%
    (every sentence at that confidence answered together); (0.0, None) when none does. Exact: counts, not means."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    best = (0.0, None)
    for t in np.unique(conf)[::-1]:  # from the most confident down
        answered = conf >= t
        if 100 * int(right[answered].sum()) >= target * int(answered.sum()):
            best = (100 * float(answered.mean()), float(t))
    return best


# ------------------------------------------------------------------------------------------------ (a)
@scored("evaluation loop (evaluate_in_batches)")
def check_evaluate_in_batches(r, evaluate_in_batches):
    """(a) the evaluation loop: batches of at most ``batch_size``, length-sorted, results in input order."""
    d = "returns one probability row per sentence, in the input order"
    res = _batches(r, d, 4, evaluate_in_batches, _SENTENCES, 5)
    if res is not None:
        rows, calls = res
        r.add(d, rows is not None and np.allclose(rows, _expected(_SENTENCES)), 4,
              "row i must be the probabilities of sentences[i]: after sorting by length, put results back")
        sizes = [len(c) for c in calls]
        r.add("never sends more than batch_size sentences at once, and each sentence exactly once",
              bool(sizes) and max(sizes) <= 5 and sorted(sum(calls, [])) == sorted(_SENTENCES)
              and len(calls) == math.ceil(len(_SENTENCES) / 5), 2,
              f"got batches of sizes {sizes} for 12 sentences and batch_size=5 (expected 5, 5, 2)")
        flat = [len(s) for s in sum(calls, [])]
        r.add("feeds the sentences shortest first (length-sorted batches pad less)", bool(flat) and flat == sorted(flat),
              2, "sort the sentence indices by len(sentence) before cutting them into batches")
    d = "works for batch_size=1 and batch sizes larger than the data"
    one = _batches(r, d, 1, evaluate_in_batches, _SENTENCES[:3], 1)
    big = _batches(r, d, 1, evaluate_in_batches, _SENTENCES[:3], 100) if one is not None else None
    if one is not None and big is not None:
        r.add(d, one[0] is not None and big[0] is not None and np.allclose(one[0], _expected(_SENTENCES[:3]))
              and np.allclose(big[0], _expected(_SENTENCES[:3])) and len(one[1]) == 3 and len(big[1]) == 1, 1,
              "every sentence must come back, whatever the batch size")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_evaluate_in_batches")
    good, detail = True, ""
    for _ in range(2):
        n, bs = int(srng.integers(3, 25)), int(srng.integers(1, 8))
        sentences = [" ".join(srng.choice(_WORDS, size=int(srng.integers(0, 12))).tolist()) for _ in range(n)]
        inputs = (lambda: f"n={n}, batch_size={bs}, sentences={brief(sentences, 6)}")
        res = _batches(r, d, 1, evaluate_in_batches, sentences, bs)
        if res is None:
            return note_raised(r, d, inputs)
        rows, calls = res
        flat = [len(s) for s in sum(calls, [])]
        if (rows is None or not np.allclose(rows, _expected(sentences)) or not calls
                or max(len(c) for c in calls) > bs or len(calls) != math.ceil(n / bs) or flat != sorted(flat)):
            good = False
            def wrong():
                rows_ok = rows is not None and np.allclose(rows, _expected(sentences))
                return ("rows " + (
                    "right" if rows_ok else "unreadable (not n x 2 numbers)" if rows is None else
                    f"{brief(np.round(rows, 2), 3)}, expected {brief(np.round(_expected(sentences), 2), 3)}")
                    + f"; batch sizes {brief([len(c) for c in calls])} (expected {math.ceil(n / bs)} of <= {bs})"
                    + f"; lengths fed {brief(flat)}" + ("" if flat == sorted(flat) else " (not shortest first)")
                    + f"; {inputs()}")

            detail = hidden_detail(wrong)
            break
    r.add(d, good, 1, "wrong on hidden sentence lists and batch sizes", detail=detail)


# ------------------------------------------------------------------------------------------------ (b)
def _triple(out):
    t = unpack(out, 3)
    if t is None:
        return None
    vals = [as_float(x) for x in t]
    return None if any(v is None for v in vals) else vals


@scored("accuracy and its 95% interval (accuracy_with_interval)")
def check_accuracy_with_interval(r, accuracy_with_interval):
    """(b) accuracy in percent with a 95% Wilson interval, inside [0, 100]."""
    labels = np.array([1, 0] * 436)
    preds = labels.copy()
    preds[:78] = 1 - preds[:78]  # 794/872 correct, the model card's figure
    d = "accuracy in percent (794/872 -> 91.06)"
    ok, out = safe_call(r, d, 2, accuracy_with_interval, preds, labels)
    if ok:
        t = _triple(out)
        wl, wh = _wilson(794, 872)
        if t is None:
            r.add(d, False, 2, f"got {short(out)}: return a tuple (accuracy, low, high) of numbers")
            r.add("95% Wilson interval at 794/872", False, 3, "no interval to read")
            r.add("an interval of roughly the right width around the accuracy", False, 1, "no interval to read")
        else:
            acc, lo, hi = t
            r.add(d, close(acc, 100 * 794 / 872), 2,
                  f"got {acc!r}; accuracy = 100 * correct / n" + (" (percent, not a fraction)" if acc < 1.01 else ""))
            exact = close(lo, wl, 0.01) and close(hi, wh, 0.01)
            r.add("95% Wilson interval at 794/872", exact, 3, f"got [{lo:.3f}, {hi:.3f}], expected [{wl:.3f}, {wh:.3f}]")
            # a normal (Wald) interval is close at n=872 but not right: it keeps only this point
            r.add("an interval of roughly the right width around the accuracy",
                  exact or (close(lo, wl, 0.5) and close(hi, wh, 0.5) and lo < acc < hi), 1,
                  "the interval must contain the accuracy and be about +-1.9 points wide at n=872")
    d = "stays inside [0, 100] at 100% accuracy (where the Wald interval collapses)"
    ok, out = safe_call(r, d, 1.5, accuracy_with_interval, np.ones(20, int), np.ones(20, int))
    if ok:
        t = _triple(out)
        wl, _ = _wilson(20, 20)
        r.add(d, t is not None and close(t[0], 100) and t[2] <= 100 + 1e-9 and close(t[1], wl, 0.01), 1.5,
              f"got {short(out)}; Wilson gives [{wl:.2f}, 100] for 20/20")
    d = "rejects predictions and labels of different lengths (ValueError)"
    try:
        accuracy_with_interval(np.ones(1, int), np.ones(4, int))   # lengths numpy would broadcast without a word
        r.add(d, False, 1, "raise ValueError when len(predictions) != len(labels)")
    except ValueError:
        r.add(d, True, 1)
    except Exception as exc:  # noqa: BLE001 -- (through the grader's proxy a learner's ValueError is one too)
        r.add(d, False, 1, f"raised {str(exc)[:80] if isinstance(exc, RemoteError) else type(exc).__name__}, "
              "expected ValueError")
    d = "hidden cases: the Wilson interval, always inside [0, 100] (drawn from the instructor's secret)"
    srng = secret_rng("check_accuracy_with_interval")
    good, detail = True, ""
    for _ in range(3):
        n = int(srng.integers(5, 400))
        k = int(srng.choice([0, n, int(srng.integers(0, n + 1))]))
        y = srng.integers(0, 2, size=n)
        p = y.copy()
        wrong = srng.choice(n, size=n - k, replace=False)
        p[wrong] = 1 - p[wrong]
        inputs = (lambda: f"{k}/{n} correct: predictions={brief(p)}, labels={brief(y)}")
        ok, out = safe_call(r, d, 1.5, accuracy_with_interval, p, y)
        if not ok:
            return note_raised(r, d, inputs)
        t = _triple(out)
        wl, wh = _wilson(k, n)
        if (t is None or not close(t[0], 100 * k / n) or not close(t[1], wl, 0.01) or not close(t[2], wh, 0.01)
                or not (-1e-9 <= t[1] <= t[0] + 1e-9 <= t[2] + 2e-9 <= 100 + 3e-9)):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; "
                                   f"expected {brief((100 * k / n, wl, wh))}")
            break
    r.add(d, good, 1.5, "wrong on hidden predictions (including 0% and 100%): clip the interval to [0, 100]",
          detail=detail)


# ------------------------------------------------------------------------------------------------ (c)
def _answers(out, n):
    """A list of n answers, each an int label or the string UNCERTAIN, or None."""
    if not isinstance(out, (list, tuple, np.ndarray)) or len(out) != n:
        return None
    got = []
    for x in out:
        if isinstance(x, str):
            got.append(x)
        elif isinstance(x, (bool, np.bool_)):
            return None
        else:
            f = as_float(x)
            if f is None or not math.isfinite(f) or f != int(f):
                return None
            got.append(int(f))
    return got


@scored("abstaining below a confidence threshold (abstain, coverage_at_accuracy)")
def check_abstain(r, abstain, coverage_at_accuracy):
    """(c) answer only when confident: labels or "UNCERTAIN"; then the most coverage that still reaches a
    target accuracy, and its threshold."""
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7], [0.7, 0.3], [0.05, 0.95]])
    labels = np.array([0, 1, 0, 1, 1, 1, 1])
    d = "labels when confident, 'UNCERTAIN' otherwise"
    ok, out = safe_call(r, d, 1.5, abstain, probs, 0.65)
    if ok:
        want = [0, "UNCERTAIN", 1, "UNCERTAIN", 1, 0, 1]
        got = _answers(out, len(probs))
        r.add(d, got == want, 1.5, f"got {short(out)}, expected {want}")
    d = "a confidence exactly at the threshold is answered"
    ok, out = safe_call(r, d, 0.5, abstain, probs, 0.7)
    if ok:
        got = _answers(out, len(probs))
        r.add(d, got is not None and got[4] == 1 and got[5] == 0, 0.5,
              "use >= threshold: 0.7 at threshold 0.7 is answered")

    def pair(out):
        """(coverage, threshold) as floats; a threshold that is neither a number nor None is nan (never right)."""
        both = unpack(out, 2)
        if not both:
            return None, float("nan")
        t = None if both[1] is None else as_float(both[1])
        return as_float(both[0]), (float("nan") if t is None and both[1] is not None else t)

    def matches(out, want_cov, want_t) -> bool:
        cov, t = pair(out)
        return close(cov, want_cov) and (t is None if want_t is None else close(t, want_t))

    def fixed(d, points, p, y, target, want_cov, want_t, why):
        """One public case of coverage_at_accuracy: (coverage, threshold) against (want_cov, want_t)."""
        ok, out = safe_call(r, d, points, coverage_at_accuracy, p, y, target)
        if ok:
            right = matches(out, want_cov, want_t)
            want = f"({want_cov:.4f}, {want_t})" if want_cov % 1 else f"({want_cov}, {want_t})"
            r.add(d, right, points, f"got {short(out)}, expected {want}" + (f": {why}" if why else ""))

    # confidences 0.95 0.9 0.8 0.7 0.7 0.6 0.55 -> right, right, wrong, right, wrong, right, wrong
    fixed("the lowest threshold that reaches the target, not the first one that misses it", 2, probs, labels, 65.0,
          600 / 7, 0.6, "at 0.6 four of six answered are right (66.7%); accuracy is not monotone in the threshold, "
          "so scan every threshold (0.7 misses, 0.6 reaches it)")
    fixed("sentences with the same confidence are answered together", 2, probs, labels, 74.5, 200 / 7, 0.9,
          "at 0.7 both 0.7 sentences are answered (3 of 5 right, 60%), so stopping between them is not a threshold")
    fixed("accuracy exactly at the target counts (>=)", 1, np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 1]),
          50.0, 100.0, 0.8, "at 0.8 one of two answered is right, exactly 50%")
    fixed("no threshold reaches the target: (0.0, None), not a crash", 1, np.array([[0.9, 0.1], [0.2, 0.8]]),
          np.array([1, 0]), 50.0, 0.0, None, "")
    d = "hidden cases with three classes and tied confidences, both functions (drawn from the instructor's secret)"
    srng = secret_rng("check_abstain")
    good, detail = True, ""
    for case in range(3):
        n = int(srng.integers(6, 21))
        decimals = 1 if case < 2 else 6  # coarse (confidences tie), then fine: no grid of thresholds holds them
        p = np.round(srng.dirichlet(np.ones(3) * 0.7, size=n), decimals)
        p[:, 0] = np.round(1 - p[:, 1:].sum(axis=1), decimals)  # rows still sum to 1
        p = np.clip(p, 0, 1)
        y = np.where(srng.random(n) < 0.7, p.argmax(axis=1), srng.integers(0, 3, size=n))
        # and a pair that ties at a high confidence, one right and one wrong
        p, y = np.vstack([p, [[0.1, 0.9, 0.0], [0.0, 0.9, 0.1]]]), np.concatenate([y, [1, 2]])
        # the target may equal an accuracy exactly (k/16 is exact in binary): >= decides, as in the visible case
        target = float(np.round(srng.uniform(50, 95), 1)) + 0.05
        threshold = float(p.max(axis=1)[int(srng.integers(len(p)))])   # a confidence that occurs: "at least" decides
        inputs = (lambda: f"n={len(p)}, threshold={threshold!r}, target={brief(target)}; "
                             f"probs={brief(p, 5)}, labels={brief(y)}")
        ok, out = safe_call(r, d, 2, abstain, p, threshold)
        ok2, out2 = safe_call(r, d, 2, coverage_at_accuracy, p, y, target) if ok else (False, None)
        if not (ok and ok2):
            which = "abstain" if not ok else "coverage_at_accuracy"
            return note_raised(r, d, lambda: f"{which} raised: {inputs()}")
        if _answers(out, len(p)) != _abstain(p, threshold) or not matches(out2, *_coverage_at(p, y, target)):
            good = False
            if _answers(out, len(p)) != _abstain(p, threshold):
                wrong = (f"abstain(probs, {threshold!r}) returned {brief(out)}; expected "
                         f"{brief(_abstain(p, threshold))}")
            else:
                wrong = (f"coverage_at_accuracy(probs, labels, {brief(target)}) returned {brief(out2)}; expected "
                         f"{brief(_coverage_at(p, y, target))}")
            detail = hidden_detail(lambda: f"{wrong}; {inputs()}")   # what came back first: the inputs are long
            break
    r.add(d, good, 2, "wrong on hidden probabilities and targets", detail=detail)
