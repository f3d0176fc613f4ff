"""Checks for the Improve level (solutions/improve/improve.ipynb): the significance of a gain."""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import CheckResult, safe_call


def _exact_mcnemar(a_right, b_right):
    """Independent re-implementation: two-sided exact binomial test on the discordant sentences."""
    b = int((a_right & ~b_right).sum())
    c = int((~a_right & b_right).sum())
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def _case(n, both, only_a, only_b, seed):
    """Labels and two prediction vectors with given counts of both-right / only-A-right / only-B-right."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    a, b = 1 - labels, 1 - labels
    order = rng.permutation(n)
    i = 0
    for count, (ra, rb) in ((both, (1, 1)), (only_a, (1, 0)), (only_b, (0, 1))):
        sel = order[i:i + count]
        i += count
        if ra:
            a[sel] = labels[sel]
        if rb:
            b[sel] = labels[sel]
    return a, b, labels


_CASES = [(872, 760, 10, 25, 1), (872, 780, 12, 14, 2), (200, 150, 9, 1, 3)]


def check_paired_significance(paired_significance) -> CheckResult:
    r = CheckResult("significance of a gain on the same sentences (paired_significance)", 10)
    for n, both, oa, ob, seed in _CASES:
        a, b, labels = _case(n, both, oa, ob, seed)
        desc = f"{n} sentences, {oa} only A right, {ob} only B right"
        ok, out = safe_call(r, desc, 10 / len(_CASES), paired_significance, a, b, labels)
        if not ok:
            continue
        try:
            gain, p = (float(x) for x in out)
        except (TypeError, ValueError):
            r.add(desc, False, 10 / len(_CASES), "return a tuple (gain_in_points, p_value)")
            continue
        want_gain = 100 * (ob - oa) / n
        want_p = _exact_mcnemar(a == labels, b == labels)
        gain_ok = abs(gain - want_gain) < 1e-6
        r.add(desc + ": gain of B over A in points", gain_ok, 1,
              f"got {gain:.4f}, expected {want_gain:.4f} (percent points, B minus A)")
        r.add(desc + ": exact McNemar p-value", abs(p - want_p) < 1e-6, 10 / len(_CASES) - 1,
              f"got p = {p:.4g}, an independent exact McNemar gives {want_p:.4g}"
              + (" (an unpaired test ignores that both models saw the same sentences)" if p > want_p else ""))
    return r
