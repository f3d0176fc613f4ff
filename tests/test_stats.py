"""textclass.stats: exact McNemar, paired bootstrap and batch-1 latency."""
from __future__ import annotations

import numpy as np
import pytest

from textclass import stats


def test_mcnemar_exact_known_values():
    y = np.ones(20, int)
    a = np.ones(20, int)
    b = np.ones(20, int)
    assert stats.mcnemar_exact(a, b, y) == 1.0  # no discordant pairs
    a[:6] = 0  # b=0 only-A-right, c=6 only-B-right: p = 2 / 2**6
    assert stats.discordant(a, b, y) == (0, 6)
    assert stats.mcnemar_exact(a, b, y) == pytest.approx(2 / 64)
    b[6:8] = 0  # b=2, c=6: p = 2 * (1 + 8 + 28) / 256
    assert stats.mcnemar_exact(a, b, y) == pytest.approx(2 * 37 / 256)
    assert stats.mcnemar_exact(a, b, y) == stats.mcnemar_exact(b, a, y)


def test_mcnemar_matches_scipy_binomtest():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 872)
    a = np.where(rng.random(872) < 0.88, y, 1 - y)
    b = np.where(rng.random(872) < 0.90, y, 1 - y)
    bb, c = stats.discordant(a, b, y)
    assert stats.mcnemar_exact(a, b, y) == pytest.approx(scipy_stats.binomtest(bb, bb + c, 0.5).pvalue)


def test_paired_bootstrap():
    y = np.ones(200, int)
    a = y.copy()
    b = y.copy()
    a[:20] = 0
    out = stats.paired_bootstrap(a, b, y, n_resamples=2000, seed=0)
    assert out["gain"] == pytest.approx(10.0)
    assert out["low"] > 0 and out["p_value"] < 0.01
    same = stats.paired_bootstrap(a, a, y, n_resamples=200)
    assert same["gain"] == 0 and same["p_value"] == 1.0
    with pytest.raises(ValueError):
        stats.paired_bootstrap(a[:3], b, y)


def test_latency_ms_restores_threads():
    import torch

    before = torch.get_num_threads()
    out = stats.latency_ms(lambda t: sum(range(100)), ["a", "b", "c"], threads=1, warmup=1)
    assert out["n"] == 3 and out["median_ms"] >= 0 and out["threads"] == 1
    assert torch.get_num_threads() == before
