"""Checks for the Beyond SST-2 level (solutions/beyond/beyond.ipynb): a stratified split with a fixed seed."""
from __future__ import annotations

import numpy as np

from autograder.checks import CheckResult, safe_call


def check_stratified_split(stratified_split) -> CheckResult:
    r = CheckResult("a stratified train/test split with a fixed seed (stratified_split)", 10)
    labels = np.repeat([0, 1, 2, 3], [100, 60, 30, 10])
    ok, out = safe_call(r, "returns disjoint index arrays covering every row", 3, stratified_split, labels, 0.2, 0)
    if not ok:
        return r
    try:
        tr, te = (np.asarray(x, dtype=int) for x in out)
    except (TypeError, ValueError):
        r.add("returns disjoint index arrays covering every row", False, 3, "return (train_indices, test_indices)")
        return r
    r.add("returns disjoint index arrays covering every row",
          len(set(tr) & set(te)) == 0 and sorted(np.concatenate([tr, te]).tolist()) == list(range(len(labels))), 3,
          "every row index must be in exactly one of the two arrays")
    counts = np.bincount(labels[te], minlength=4) if len(te) else np.zeros(4, int)
    r.add("each class keeps its share in the test part (20% of every class)", counts.tolist() == [20, 12, 6, 2], 4,
          f"test class counts {counts.tolist()}, expected [20, 12, 6, 2] (round(0.2 * class size) per class)")
    ok2, again = safe_call(r, "the same seed gives the same split, another seed another", 3,
                           lambda: (stratified_split(labels, 0.2, 0), stratified_split(labels, 0.2, 1)))
    if ok2:
        same = np.array_equal(np.sort(np.asarray(again[0][1])), np.sort(te))
        other = not np.array_equal(np.sort(np.asarray(again[1][1])), np.sort(te))
        r.add("the same seed gives the same split, another seed another", same and other, 3,
              "use np.random.default_rng(seed) inside the function (not the global random state)")
    return r
