"""Paired significance tests for comparing two classifiers on the same sentences, and batch-1 latency.

On SST-2 validation both models see the *same* 872 sentences, so the comparison is paired: only the
sentences where exactly one model is right carry information (McNemar -- Level 5's exercise, so its
reference lives with the autograder's checks, not here), or resample sentences and
recompute both accuracies on the same resample (paired bootstrap). An unpaired two-proportion test ignores
that pairing and is far too conservative.
"""
from __future__ import annotations

import contextlib
import statistics
import time

import numpy as np


def _correct(predictions, labels):
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} differ in shape")
    return predictions == labels


def discordant(pred_a, pred_b, labels) -> tuple[int, int]:
    """(b, c): sentences only model A gets right, and sentences only model B gets right."""
    a, b = _correct(pred_a, labels), _correct(pred_b, labels)
    return int((a & ~b).sum()), int((~a & b).sum())


def paired_bootstrap(pred_a, pred_b, labels, *, n_resamples: int = 10_000, seed: int = 0) -> dict:
    """Accuracy gain of B over A (points) with a 95% percentile interval and a two-sided p-value.

    Each resample draws sentence indices with replacement and scores *both* models on the same draw.
    """
    a, b = _correct(pred_a, labels).astype(float), _correct(pred_b, labels).astype(float)
    rng = np.random.default_rng(seed)
    n = len(a)
    idx = rng.integers(0, n, size=(n_resamples, n))
    diffs = 100 * (b[idx].mean(1) - a[idx].mean(1))
    gain = 100 * (b.mean() - a.mean())
    p = min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"gain": float(gain), "low": float(lo), "high": float(hi), "p_value": float(p)}


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """torch's CPU threads set to ``threads`` (None: left as they are) and restored afterwards; yields the count."""
    import torch

    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield threads or old
    finally:
        torch.set_num_threads(old)


def _time_one(predict_one, text, times: list) -> None:
    start = time.perf_counter()
    predict_one(text)
    times.append(1000 * (time.perf_counter() - start))


def _summary(times: list, threads: int) -> dict:
    times = sorted(times)
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
            "n": len(times), "threads": threads}


def latency_ms(predict_one, texts, *, threads: int | None = None, warmup: int = 5, repeats: int = 1) -> dict:
    """Median / p90 milliseconds of ``predict_one(text)`` called one sentence at a time (batch 1)."""
    times = []
    with _torch_threads(threads) as used:
        for t in list(texts)[:warmup]:
            predict_one(t)
        for _ in range(repeats):
            for t in texts:
                _time_one(predict_one, t, times)
    return _summary(times, used)


def latency_ms_interleaved(predict_ones: dict, texts, *, threads: int | None = None, warmup: int = 5,
                           blocks: int = 10) -> dict:
    """:func:`latency_ms` for several models at once, each timed on the same ``texts`` (batch 1), taking turns:
    the texts are cut into ``blocks`` runs of consecutive sentences, and each block is timed model after model
    (the order turning by one each block, every model re-warmed on the block's first sentence). A machine that
    slows down for a while (another job, a shared host, a clock that drops) slows every model alike, so their
    ratios hold, where timing one model after another charges the slow minutes to whichever ran then; each model
    still runs consecutive sentences with its weights in cache. It keeps the comparison between models fair; it
    does not steady the milliseconds from one run to the next. Returns ``{name: latency_ms's dict}``, each with
    ``blocks``, the number of blocks used (at most one per sentence)."""
    names, texts = list(predict_ones), list(texts)
    if not names or not texts:
        raise ValueError("latency_ms_interleaved needs at least one model and one sentence")
    if blocks < 1:
        raise ValueError(f"latency_ms_interleaved needs at least one block, got blocks={blocks}")
    bounds = np.linspace(0, len(texts), min(blocks, len(texts)) + 1).astype(int)
    times = {name: [] for name in names}
    with _torch_threads(threads) as used:
        for name in names:
            for t in texts[:warmup]:
                predict_ones[name](t)
        for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            for name in names[b % len(names):] + names[:b % len(names)]:
                predict_ones[name](texts[lo])
                for t in texts[lo:hi]:
                    _time_one(predict_ones[name], t, times[name])
    return {name: _summary(ts, used) | {"blocks": len(bounds) - 1} for name, ts in times.items()}


def batch1(model, tokenizer, *, max_length: int = 128):
    """``predict_one(text) -> logits``: ``model(input_ids, attention_mask)`` on one sentence, tokenisation
    included, on the CPU (what :func:`latency_ms` times)."""
    import torch

    def predict_one(text):
        enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            return model(enc["input_ids"], enc["attention_mask"])

    return predict_one
