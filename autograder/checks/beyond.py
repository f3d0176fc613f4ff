"""Checks for the Beyond SST-2 level (solutions/beyond/beyond.ipynb): a stratified split with a fixed seed.

The learner's function runs in the harness ``autograder.harnesses.beyond.call_watching_rngs`` (plain data in and
out, and whether the global random state was left alone); the check reads answers by value, never raises, and
adds hidden cases drawn from the instructor's secret (:func:`secret_rng`).
"""
from __future__ import annotations

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
from autograder.checks._plain import as_int_array, brief, harness_dict, hidden_detail, note_raised, scored, unpack
from autograder.harnesses import beyond as harnesses


def _test_counts(labels, frac):
    """round(test_fraction * class size) per class, Python's round as the exercise says."""
    return [int(round(frac * int(c))) for c in np.bincount(labels)]


def _split(r, d, points, fn, labels, frac, seed):
    """(True, train, test, untouched) with train/test int arrays or None; (False, ...) when fn raised."""
    ok, res = safe_call(r, d, points, run_in_harness, fn, harnesses.call_watching_rngs,
                        args=[np.asarray(labels), float(frac), int(seed)])
    if not ok:
        return False, None, None, None
    res = harness_dict(res, "out", "global_rng_untouched")
    # untouched: the kernel says so, and the split is the same with the global generators seeded elsewhere
    untouched = bool(res and res["global_rng_untouched"] and res.get("out_reseeded") == res["out"])
    pair = unpack(res["out"], 2) if res else None
    if pair is None:
        return True, None, None, untouched
    return True, as_int_array(pair[0]), as_int_array(pair[1]), untouched


def _partition(tr, te, n) -> bool:
    return (tr is not None and te is not None and len(set(tr.tolist()) & set(te.tolist())) == 0
            and sorted(np.concatenate([tr, te]).tolist()) == list(range(n)))


@scored("a stratified train/test split with a fixed seed (stratified_split)")
def check_stratified_split(r, stratified_split):
    labels = np.repeat([0, 1, 2, 3, 4], [100, 60, 7, 13, 9])
    np.random.RandomState(5).shuffle(labels)
    d = "returns disjoint index arrays covering every row"
    ok, tr, te, untouched = _split(r, d, 2, stratified_split, labels, 0.3, 0)
    if not ok:
        return
    r.add(d, _partition(tr, te, len(labels)), 2, "return (train_indices, test_indices): every row index in exactly "
          "one of the two")
    counts = np.bincount(labels[te], minlength=5).tolist() if _partition(tr, te, len(labels)) else None
    want = _test_counts(labels, 0.3)  # 30, 18, 2 (2.1), 4 (3.9), 3 (2.7): floor and ceil both go wrong
    # three classes of 3 at 0.4: round(1.2) = 1 each, 3 in all; sklearn's stratify puts ceil(0.4 * 9) = 4 in test
    small = np.array([0, 1, 2, 0, 1, 2, 2, 1, 0])
    from autograder.checks import CheckResult

    scratch = CheckResult("the small case", 0)   # a call that raises here is reported in the part below
    ok_small, tr_s, te_s, _ = _split(scratch, "", 0, stratified_split, small, 0.4, 0)
    counts_small = (np.bincount(small[te_s], minlength=3).tolist()
                    if ok_small and _partition(tr_s, te_s, len(small)) else None)
    why = ([] if counts == want else [f"test class counts {counts}, expected {want} (round, not floor or ceil)"]) + (
        [] if counts_small == [1, 1, 1] else [
            f"three classes of 3 at test_fraction 0.4: got {scratch.parts[0][3] if scratch.parts else counts_small}, "
            "expected [1, 1, 1] test rows per class (round(test_fraction * class size) for each class on its own, "
            "not a total of ceil(test_fraction * n) shared out, as sklearn's stratify does)"])
    r.add("each class keeps its share in the test part: round(test_fraction * class size) per class",
          not why, 3, "; ".join(why))
    r.add("leaves the global random state alone (np.random, random)",
          bool(untouched) and _partition(tr, te, len(labels)), 1,
          "shuffle with rng = np.random.default_rng(seed) inside the function, never np.random.* or random.*")
    d = "the same seed gives the same split, another seed another"
    ok1, _, a, _ = _split(r, d, 2, stratified_split, labels, 0.3, 0)
    ok2, _, b, _ = _split(r, d, 2, stratified_split, labels, 0.3, 1) if ok1 else (False, None, None, None)
    if ok1 and ok2:
        r.add(d, te is not None and a is not None and b is not None and np.array_equal(np.sort(a), np.sort(te))
              and not np.array_equal(np.sort(b), np.sort(te)), 2,
              "use np.random.default_rng(seed) inside the function (not the global random state)")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_stratified_split")
    good, detail = True, ""
    for _ in range(3):
        k = int(srng.integers(2, 6))
        frac = float(srng.choice([0.1, 0.15, 0.2, 0.25, 0.3, 0.4]))
        sizes = []
        while len(sizes) < k:
            s = int(srng.integers(2, 60))
            if abs(frac * s - int(frac * s) - 0.5) > 1e-6:  # no exact .5 ties
                sizes.append(s)
        lab = np.repeat(np.arange(k), sizes)
        srng.shuffle(lab)
        seed = int(srng.integers(0, 10_000))   # (drawn where the call drew it: the same hidden cases)
        inputs = (lambda: f"stratified_split(labels, {frac}, {seed}) with class sizes {sizes}, "
                             f"labels={brief(lab)}")
        ok, tr, te, untouched = _split(r, d, 2, stratified_split, lab, frac, seed)
        if not ok:
            return note_raised(r, d, inputs)
        if not (_partition(tr, te, len(lab)) and np.bincount(lab[te], minlength=k).tolist() == _test_counts(lab, frac)
                and untouched):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned train={brief(tr)}, test={brief(te)}" + (
                f" (test class counts {np.bincount(lab[te], minlength=k).tolist()})" if _partition(tr, te, len(lab))
                else " (not a partition of the rows)")
                + f", global random state {'untouched' if untouched else 'changed'}"
                f"; expected test class counts {_test_counts(lab, frac)}")
            break
    r.add(d, good, 2, "wrong on hidden label arrays and test fractions", detail=detail)
