"""textclass.stats: discordant pairs, paired bootstrap and batch-1 latency; the exact McNemar reference (Level 5's
exercise) lives with the checks in autograder/checks/improve.py."""
from __future__ import annotations

import time

import numpy as np
import pytest

from textclass import stats
from autograder.checks.improve import mcnemar_exact


def test_mcnemar_exact_known_values():
    y = np.ones(20, int)
    a = np.ones(20, int)
    b = np.ones(20, int)
    assert mcnemar_exact(a, b, y) == 1.0  # no discordant pairs
    a[:6] = 0  # b=0 only-A-right, c=6 only-B-right: p = 2 / 2**6
    assert stats.discordant(a, b, y) == (0, 6)
    assert mcnemar_exact(a, b, y) == pytest.approx(2 / 64)
    b[6:8] = 0  # b=2, c=6: p = 2 * (1 + 8 + 28) / 256
    assert mcnemar_exact(a, b, y) == pytest.approx(2 * 37 / 256)
    assert mcnemar_exact(a, b, y) == mcnemar_exact(b, a, y)


def test_mcnemar_matches_scipy_binomtest():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 872)
    a = np.where(rng.random(872) < 0.88, y, 1 - y)
    b = np.where(rng.random(872) < 0.90, y, 1 - y)
    bb, c = stats.discordant(a, b, y)
    assert mcnemar_exact(a, b, y) == pytest.approx(scipy_stats.binomtest(bb, bb + c, 0.5).pvalue)


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


def _machine(slow_after: int, base_ms: float = 2.0, factor: float = 3.0):
    """Predictors that sleep ``base_ms`` (times their own weight), on a machine that turns ``factor`` times slower
    after ``slow_after`` calls of all of them together (another job starting, a shared host)."""
    calls = [0]

    def model(weight):
        def predict_one(text):
            calls[0] += 1
            time.sleep(base_ms * weight * (factor if calls[0] > slow_after else 1.0) / 1000)
        return predict_one
    return model


def test_interleaved_latency_charges_a_slow_spell_to_every_model_alike():
    """Two identical models: timed one after the other, the one timed after the machine slowed looks ~3x slower;
    taking turns, both see the slow spell (about two thirds of each one's sentences) and measure alike, the ratio
    the budget's choice relies on. In one block, the turns are one model after the other again."""
    texts = [f"s{i}" for i in range(40)]
    model = _machine(slow_after=45)
    seq = {name: stats.latency_ms(model(1.0), texts, warmup=2)["median_ms"] for name in ("a", "b")}
    assert seq["b"] / seq["a"] > 2.0                      # the premise: sequential timing is fooled
    model = _machine(slow_after=45)
    out = stats.latency_ms_interleaved({"a": model(1.0), "b": model(1.0)}, texts, warmup=2, blocks=20)
    assert 0.7 < out["b"]["median_ms"] / out["a"]["median_ms"] < 1.4
    assert out["a"]["n"] == out["b"]["n"] == 40 and out["a"]["blocks"] == 20
    model = _machine(slow_after=45)
    one = stats.latency_ms_interleaved({"a": model(1.0), "b": model(1.0)}, texts, warmup=2, blocks=1)
    assert one["b"]["median_ms"] / one["a"]["median_ms"] > 2.0


def test_interleaved_latency_takes_turns_in_blocks_of_consecutive_sentences():
    calls = []

    def model(name):
        return lambda text: calls.append((name, text))

    texts = [str(i) for i in range(6)]
    out = stats.latency_ms_interleaved({"a": model("a"), "b": model("b"), "c": model("c")}, texts, warmup=1,
                                       blocks=3)
    assert calls[:3] == [("a", "0"), ("b", "0"), ("c", "0")]            # warm-up
    blocks = [calls[3 + 9 * k: 3 + 9 * (k + 1)] for k in range(3)]
    assert len(calls) == 3 + 27
    for k, block in enumerate(blocks):
        lo = 2 * k
        # each model: one re-warming call on the block's first sentence, then the block's two sentences, timed
        runs = [block[3 * m: 3 * m + 3] for m in range(3)]
        assert all(len({name for name, _ in run}) == 1 for run in runs)
        assert all([t for _, t in run] == [str(lo), str(lo), str(lo + 1)] for run in runs)
        assert runs[0][0][0] == "abc"[k]                                   # the order turns by one each block
    assert {name: o["n"] for name, o in out.items()} == {"a": 6, "b": 6, "c": 6}


def test_interleaved_latency_still_sees_a_slower_model_and_restores_threads():
    import torch

    before = torch.get_num_threads()
    model = _machine(slow_after=10**9)
    out = stats.latency_ms_interleaved({"fast": model(1.0), "slow": model(2.5)}, [str(i) for i in range(12)],
                                       threads=1, warmup=1, blocks=5)
    assert out["slow"]["median_ms"] / out["fast"]["median_ms"] > 1.8
    assert out["fast"]["threads"] == 1 and out["fast"]["p90_ms"] >= out["fast"]["median_ms"]
    assert torch.get_num_threads() == before
    one = stats.latency_ms_interleaved({"only": model(1.0)}, ["x"], blocks=10)   # more blocks than sentences
    assert one["only"]["n"] == 1 and one["only"]["blocks"] == 1
    for bad in ({"models": {}, "texts": ["x"]}, {"models": {"only": model(1.0)}, "texts": []},
                {"models": {"only": model(1.0)}, "texts": ["x"], "blocks": 0}):
        with pytest.raises(ValueError):
            stats.latency_ms_interleaved(bad["models"], bad["texts"], blocks=bad.get("blocks", 10))


def test_batch1_gives_the_batched_probabilities_one_sentence_at_a_time():
    """The latency predictor runs the same model as the batched evaluation: same answers, one at a time."""
    import torch

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    enc = load_encoder(MINILM, profile="offline")
    model = ft.PooledClassifier(enc.model, layers=1).eval()
    texts = ["a gripping, funny film", "flat", "the plot goes nowhere and the actors know it"]
    batched = ft.predict_proba(model, enc.tokenizer, texts)
    one = stats.batch1(model, enc.tokenizer)
    singles = np.stack([torch.softmax(one(t), -1)[0].numpy() for t in texts])
    np.testing.assert_allclose(singles, batched, atol=1e-5)
    assert stats.latency_ms(one, texts, warmup=1)["n"] == 3


def test_train_subset_is_levels_3_and_5_shared_rows():
    from textclass.probe import train_subset

    assert (train_subset(10, None) == np.arange(10)).all() and (train_subset(10, 50) == np.arange(10)).all()
    rows = train_subset(67349, 10000)
    assert len(rows) == len(set(rows.tolist())) == 10000 and (np.diff(rows) > 0).all()
    # Level 3's formula (solutions/embeddings: pool_indices), so Level 5 reuses its cached embeddings
    assert (rows == np.sort(np.random.RandomState(0).permutation(67349)[:10000])).all()
    assert not (train_subset(67349, 10000, seed=1) == rows).all()
