"""Checks for the Embeddings level's exercises (solutions/embeddings/embeddings.ipynb)."""
from __future__ import annotations

import numpy as np

from autograder.checks import CheckResult, safe_call
from textclass import mteb
from textclass.probe import mean_pool


def check_mean_pooling(mean_pooling) -> CheckResult:
    """(a) mask-aware mean of token vectors (torch tensors in, (batch, hidden) out)."""
    import torch

    r = CheckResult("mean pooling by hand (mean_pooling)", 10)
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(4, 7, 5, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]])
    want = mean_pool(hidden, mask)
    d = "shape (batch, hidden)"
    ok, out = safe_call(r, d, 2, mean_pooling, hidden, mask)
    if ok:
        got = torch.as_tensor(out).float() if out is not None else torch.zeros(0)
        r.add(d, tuple(got.shape) == (4, 5), 2, f"got shape {tuple(got.shape)}, expected (4, 5): average over tokens")
        if tuple(got.shape) == (4, 5):
            plain = hidden.mean(dim=1)
            masked_sum_over_all = (hidden * mask.unsqueeze(-1)).sum(1) / hidden.shape[1]
            hint = ""
            if torch.allclose(got, plain, atol=1e-5):
                hint = " -- you averaged the padding too: multiply by the mask"
            elif torch.allclose(got, masked_sum_over_all, atol=1e-5):
                hint = " -- divide by the number of real tokens (mask.sum), not the sequence length"
            r.add("ignores padding: the mean over the real tokens only", torch.allclose(got, want, atol=1e-5), 6,
                  "sum(token_embeddings * mask) / sum(mask), per sentence" + hint)
    d = "a row with no real token gives zeros, not nan; integer masks of any dtype work"
    ok, out = safe_call(r, d, 2, mean_pooling, hidden[:2].double(), torch.tensor([[1, 1, 0, 0, 0, 0, 0],
                                                                                   [0, 0, 0, 0, 0, 0, 0]]))
    if ok:
        got = torch.as_tensor(out)
        r.add(d, tuple(got.shape) == (2, 5) and bool(torch.isfinite(got).all()) and
              torch.allclose(got[1].double(), torch.zeros(5, dtype=torch.float64)) and
              torch.allclose(got[0].double(), hidden[0, :2].double().mean(0), atol=1e-6), 2,
              "clamp the token count: .clamp(min=1e-9); convert the mask to the embeddings' dtype")
    return r


def check_sample_per_class(sample_per_class) -> CheckResult:
    """(b) a stratified, seeded sample of indices."""
    r = CheckResult("stratified sample (sample_per_class)", 10)
    labels = np.array([0] * 50 + [1] * 30 + [2] * 5)
    np.random.RandomState(1).shuffle(labels)
    d = "n examples of each class (fewer only where a class is smaller)"
    ok, out = safe_call(r, d, 4, sample_per_class, labels, 8, 0)
    if ok:
        idx = np.asarray(out)
        valid = idx.ndim == 1 and np.issubdtype(idx.dtype, np.integer) and (idx.size == 0 or (
            idx.min() >= 0 and idx.max() < len(labels)))
        counts = np.bincount(labels[idx], minlength=3).tolist() if valid else None
        r.add(d, valid and counts == [8, 8, 5] and len(set(idx.tolist())) == len(idx), 4,
              f"got per-class counts {counts}, expected [8, 8, 5] (class 2 has only 5), no index twice")
        r.add("indices are returned sorted", valid and bool(np.all(np.diff(idx) > 0)), 1, "return np.sort(...)")
    d = "the same seed gives the same sample; another seed another one"
    ok, out = safe_call(r, d, 3, lambda: (sample_per_class(labels, 8, 0), sample_per_class(labels, 8, 0),
                                          sample_per_class(labels, 8, 1)))
    if ok:
        a, b, c = (np.asarray(x) for x in out)
        r.add(d, np.array_equal(a, b) and not np.array_equal(a, c), 3,
              "use rng = np.random.RandomState(seed) (not the global np.random, not a fixed slice)")
    d = "n_per_class=None means every example"
    ok, out = safe_call(r, d, 2, sample_per_class, labels, None, 0)
    if ok:
        r.add(d, np.array_equal(np.sort(np.asarray(out)), np.arange(len(labels))), 2,
              "return all indices, np.arange(len(labels))")
    return r


def check_mteb_undersample(mteb_undersample) -> CheckResult:
    """(c) MTEB 1.0.x's undersampling: in-place reshuffle of one index array, first k per label in walk order."""
    r = CheckResult("MTEB undersampling (mteb_undersample)", 10)
    labels = np.random.RandomState(3).randint(0, 6, size=200)
    want = mteb.experiment_indices(labels, n_experiments=3, samples_per_label=4, seed=42)
    d = "first experiment: the same indices as MTEB, in walk order"
    ok, out = safe_call(r, d, 4, mteb_undersample, labels, 4, None, np.random.RandomState(42))
    if ok:
        try:
            sampled, idxs = out
            sampled = [int(i) for i in sampled]
        except (TypeError, ValueError):
            r.add(d, False, 4, "return a tuple (sampled, idxs)")
        else:
            same_set = sorted(sampled) == sorted(want[0])
            r.add(d, sampled == want[0], 4, "shuffle np.arange(len(labels)) with rng.shuffle, then keep the first "
                  "samples_per_label indices of each label while walking it" +
                  (" (right indices, wrong order: keep walk order)" if same_set and sampled != want[0] else ""))
    d = "later experiments reshuffle the returned index array (not a fresh arange)"

    def three():
        rng, idxs, got = np.random.RandomState(42), None, []
        for _ in range(3):
            s, idxs = mteb_undersample(labels, 4, idxs, rng)
            got.append([int(i) for i in s])
        return got

    ok, out = safe_call(r, d, 4, three)
    if ok:
        r.add(d, out == want, 4, "pass the idxs you returned back in; rng.shuffle(idxs) shuffles it in place")
    d = "every label gets samples_per_label examples (or all it has)"
    small = np.array([0, 0, 0, 1, 2, 2, 2, 2])
    ok, out = safe_call(r, d, 2, mteb_undersample, small, 2, None, np.random.RandomState(0))
    if ok:
        try:
            counts = np.bincount(small[np.asarray(out[0], dtype=int)], minlength=3).tolist()
        except (TypeError, ValueError, IndexError):
            counts = None
        r.add(d, counts == [2, 1, 2], 2, f"got per-label counts {counts}, expected [2, 1, 2]")
    return r
