"""Checks for the Embeddings level's exercises (solutions/embeddings/embeddings.ipynb).

The learner's functions take torch tensors (``mean_pooling``) or a ``RandomState`` (``mteb_undersample``), or
must leave the global random state alone (``sample_per_class``): they run in the harnesses of
``autograder.harnesses.embeddings``, which take and return plain data. Every check reads answers by value,
never raises, and adds hidden cases drawn from the instructor's secret (:func:`secret_rng`).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
from autograder.checks._plain import as_array, as_int_array, brief, harness_dict, hidden_detail, note_raised, scored
from autograder.harnesses import embeddings as harnesses


# ------------------------------------------------------------------------------------------ references
def _mean_pool(hidden, mask):
    hidden, mask = np.asarray(hidden, dtype=float), np.asarray(mask, dtype=float)[..., None]
    return (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)


def _undersample(labels, k, idxs, rng):
    labels = np.asarray(labels)
    if idxs is None:
        idxs = np.arange(len(labels))
    rng.shuffle(idxs)
    seen, kept = defaultdict(int), []
    for i in idxs:
        if seen[labels[i]] < k:
            kept.append(int(i))
            seen[labels[i]] += 1
    return kept, idxs


def _experiments(labels, k, seed, n):
    rng, idxs, out = np.random.RandomState(seed), None, []
    for _ in range(n):
        s, idxs = _undersample(labels, k, idxs, rng)
        out.append(s)
    return out


# ------------------------------------------------------------------------------------------------ (a)
def _pool(r, d, points, mean_pooling, hidden, mask, dtype="float32"):
    ok, out = safe_call(r, d, points, run_in_harness, mean_pooling, harnesses.pooling,
                        hidden=np.asarray(hidden, dtype=float), mask=np.asarray(mask, dtype=np.int64), dtype=dtype)
    return ok, (as_array(out) if ok else None)


@scored("mean pooling by hand (mean_pooling)")
def check_mean_pooling(r, mean_pooling):
    """(a) mask-aware mean of token vectors (torch tensors in, (batch, hidden) out)."""
    hidden = np.random.RandomState(0).randn(4, 7, 5).astype(np.float32).astype(float)
    mask = np.array([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]])
    want = _mean_pool(hidden, mask)
    d = "shape (batch, hidden)"
    ok, got = _pool(r, d, 2, mean_pooling, hidden, mask)
    if ok:
        shape = None if got is None else got.shape
        r.add(d, shape == (4, 5), 2, f"got shape {shape}, expected (4, 5): average over tokens")
        hint = ""
        if shape == (4, 5):
            if np.allclose(got, hidden.mean(axis=1), atol=1e-5):
                hint = " -- you averaged the padding too: multiply by the mask"
            elif np.allclose(got, (hidden * mask[..., None]).sum(1) / hidden.shape[1], atol=1e-5):
                hint = " -- divide by the number of real tokens (mask.sum), not the sequence length"
        r.add("ignores padding: the mean over the real tokens only",
              shape == (4, 5) and np.allclose(got, want, atol=1e-5), 5,
              "sum(token_embeddings * mask) / sum(mask), per sentence" + hint)
    d = "a row with no real token gives zeros, not nan; float64 embeddings work"
    ok, got = _pool(r, d, 2, mean_pooling, hidden[:2], [[1, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]], "float64")
    if ok:
        r.add(d, got is not None and got.shape == (2, 5) and bool(np.all(np.isfinite(got))) and
              np.allclose(got[1], 0) and np.allclose(got[0], hidden[0, :2].mean(0), atol=1e-6), 2,
              "clamp the token count: .clamp(min=1e-9); convert the mask to the embeddings' dtype")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_mean_pooling")
    good, detail = True, ""
    for _ in range(2):
        b, t, h = (int(x) for x in srng.integers([1, 1, 1], [6, 10, 9]))
        hid = srng.normal(size=(b, t, h)).astype(np.float32).astype(float)
        m = (srng.random((b, t)) < 0.6).astype(np.int64)
        inputs = (lambda: f"token_embeddings {b}x{t}x{h} (float32), attention_mask={brief(m, 6)}")
        ok, got = _pool(r, d, 1, mean_pooling, hid, m)
        if not ok:
            return note_raised(r, d, inputs)
        if got is None or got.shape != (b, h) or not np.allclose(got, _mean_pool(hid, m), atol=1e-5):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned " + (
                "no array" if got is None else f"shape {got.shape} {brief(got, 3)}")
                + f"; expected shape ({b}, {h}) {brief(_mean_pool(hid, m), 3)}")
            break
    r.add(d, good, 1, "wrong on hidden shapes and masks", detail=detail)


# ------------------------------------------------------------------------------------------------ (b)
def _watched(r, d, points, fn, *args):
    """``fn(*args)`` in the harness: (True, out, global RNG untouched) or (False, None, None)."""
    ok, res = safe_call(r, d, points, run_in_harness, fn, harnesses.call_watching_rngs, args=list(args))
    res = harness_dict(res, "out", "global_rng_untouched") if ok else None
    if res is None:
        if ok:
            r.add(d, False, points, "the harness could not read the answer")
        return False, None, None
    # untouched: the kernel says so, and the answer is the same with the global generators seeded elsewhere
    # (compared here, in the grader: a kernel that lies about its random state still draws from it)
    return True, res["out"], bool(res["global_rng_untouched"]) and res.get("out_reseeded") == res["out"]


def _sample_ok(idx, labels, n):
    """(valid, per-class counts or None, message)."""
    if idx is None or (idx.size and (idx.min() < 0 or idx.max() >= len(labels))):
        return False, None
    counts = np.bincount(labels[idx], minlength=labels.max() + 1).tolist()
    want = [min(n, int(c)) for c in np.bincount(labels)]
    return counts == want and len(set(idx.tolist())) == len(idx), counts


@scored("stratified sample (sample_per_class)")
def check_sample_per_class(r, sample_per_class):
    """(b) a stratified, seeded sample of indices, drawn with its own RandomState (not the global one)."""
    labels = np.array([0] * 50 + [1] * 30 + [2] * 5)
    np.random.RandomState(1).shuffle(labels)
    d = "n examples of each class (fewer only where a class is smaller)"
    ok, out, untouched = _watched(r, d, 3, sample_per_class, labels, 8, 0)
    if ok:
        idx = as_int_array(out)
        good, counts = _sample_ok(idx, labels, 8)
        r.add(d, good, 3, f"got per-class counts {counts}, expected [8, 8, 5] (class 2 has only 5), no index twice")
        # these two parts are about a sample, right or not: distinct indices of the labels, at least one
        sample = idx is not None and idx.size > 0 and idx.min() >= 0 and idx.max() < len(labels) \
            and len(np.unique(idx)) == idx.size
        r.add("indices are returned sorted", sample and bool(np.all(np.diff(idx) > 0)), 1,
              "return np.sort(...) of the sample")
        r.add("leaves the global random state alone (np.random, random)", sample and bool(untouched), 2,
              "draw with rng = np.random.RandomState(seed); np.random.seed / np.random.choice / random.* change "
              "everyone else's random numbers")
    d = "the same seed gives the same sample; another seed another one"
    ok1, a, _ = _watched(r, d, 2, sample_per_class, labels, 8, 0)
    ok2, b, _ = _watched(r, d, 2, sample_per_class, labels, 8, 0) if ok1 else (False, None, None)
    ok3, c, _ = _watched(r, d, 2, sample_per_class, labels, 8, 1) if ok2 else (False, None, None)
    if ok1 and ok2 and ok3:
        a, b, c = as_int_array(a), as_int_array(b), as_int_array(c)
        r.add(d, a is not None and b is not None and c is not None and np.array_equal(a, b)
              and not np.array_equal(a, c), 2,
              "use rng = np.random.RandomState(seed) (not the global np.random, not a fixed slice)")
    d = "n_per_class=None means every example"
    ok, out, _ = _watched(r, d, 1, sample_per_class, labels, None, 0)
    if ok:
        idx = as_int_array(out)
        r.add(d, idx is not None and np.array_equal(np.sort(idx), np.arange(len(labels))), 1,
              "return all indices, np.arange(len(labels))")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_sample_per_class")
    good, detail = True, ""
    for _ in range(2):
        k = int(srng.integers(2, 6))
        lab = srng.integers(0, k, size=int(srng.integers(10, 80)))
        lab[:k] = np.arange(k)  # every class occurs
        n = int(srng.integers(1, 12))
        seed = int(srng.integers(0, 10_000))   # (drawn where the call drew it: the same hidden cases)
        inputs = (lambda: f"sample_per_class(labels, {n}, {seed}) with labels (n={len(lab)}, class sizes "
                             f"{np.bincount(lab).tolist()})={brief(lab)}")
        ok, out, untouched = _watched(r, d, 1, sample_per_class, lab, n, seed)
        if not ok:
            return note_raised(r, d, inputs)
        idx = as_int_array(out)
        if not (_sample_ok(idx, lab, n)[0] and bool(np.all(np.diff(idx) > 0)) and untouched):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out)} (per-class counts "
                                   f"{brief(_sample_ok(idx, lab, n)[1])}, global random state "
                                   f"{'untouched' if untouched else 'changed'}); expected sorted distinct indices, "
                                   f"per-class counts {[min(n, int(c)) for c in np.bincount(lab)]}")
            break
    r.add(d, good, 1, "wrong on hidden label arrays and sizes", detail=detail)


# ------------------------------------------------------------------------------------------------ (c)
def _experiments_of(r, d, points, mteb_undersample, labels, k, seed, n):
    ok, res = safe_call(r, d, points, run_in_harness, mteb_undersample, harnesses.undersample_experiments,
                        labels=np.asarray(labels), samples_per_label=int(k), seed=int(seed), experiments=int(n))
    if not ok:
        return False, None, None, ""
    res = harness_dict(res, "sampled", "global_rng_untouched")
    if res is None:
        return True, [], False, "the harness could not read the answer"
    sampled = res["sampled"] if isinstance(res["sampled"], list) else []
    untouched = bool(res["global_rng_untouched"]) and (bool(res.get("error")) or res.get("sampled_reseeded") == sampled)
    return True, [list(s) for s in sampled if isinstance(s, list)], untouched, str(res.get("error", ""))


@scored("MTEB undersampling (mteb_undersample)")
def check_mteb_undersample(r, mteb_undersample):
    """(c) MTEB 1.0.x's undersampling: in-place reshuffle of one index array, first k per label in walk order."""
    labels = np.random.RandomState(3).randint(0, 6, size=200)
    want = _experiments(labels, 4, 42, 3)
    d = "first experiment: the same indices as MTEB, in walk order"
    ok, got, untouched, err = _experiments_of(r, d, 3, mteb_undersample, labels, 4, 42, 3)
    if ok:
        first = got[0] if got else None
        same_set = first is not None and sorted(first) == sorted(want[0])
        r.add(d, first == want[0], 3, (err + "; " if err else "") + "shuffle np.arange(len(labels)) with rng.shuffle, "
              "then keep the first samples_per_label indices of each label while walking it" +
              (" (right indices, wrong order: keep walk order)" if same_set and first != want[0] else ""))
        r.add("later experiments reshuffle the returned index array (not a fresh arange)", got == want, 3,
              "pass the idxs you returned back in; rng.shuffle(idxs) shuffles it in place")
        r.add("uses only the rng it is given (the global random state is left alone)", untouched and got == want, 1,
              "shuffle with the rng argument, never np.random.* or random.*")
    d = "every label gets samples_per_label examples (or all it has)"
    small = np.array([0, 0, 0, 1, 2, 2, 2, 2])
    ok, got, _, _ = _experiments_of(r, d, 1, mteb_undersample, small, 2, 0, 1)
    if ok:
        try:
            counts = np.bincount(small[np.asarray(got[0], dtype=int)], minlength=3).tolist()
        except (TypeError, ValueError, IndexError):
            counts = None
        r.add(d, counts == [2, 1, 2], 1, f"got per-label counts {counts}, expected [2, 1, 2]")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_mteb_undersample")
    good, detail = True, ""
    for _ in range(2):
        n_labels, k = int(srng.integers(2, 8)), int(srng.integers(1, 6))
        lab = srng.integers(0, n_labels, size=int(srng.integers(20, 150)))
        seed, n = int(srng.integers(0, 10_000)), int(srng.integers(2, 4))
        inputs = (lambda: f"samples_per_label={k}, seed={seed}, experiments={n}, labels (n={len(lab)}, "
                             f"{n_labels} ids)={brief(lab)}")
        ok, got, untouched, err = _experiments_of(r, d, 2, mteb_undersample, lab, k, seed, n)
        if not ok:
            return note_raised(r, d, inputs)
        if got != _experiments(lab, k, seed, n) or not untouched:
            good = False

            def wrong():
                want = _experiments(lab, k, seed, n)
                first = next((i for i in range(max(len(got), len(want)))
                              if i >= len(got) or i >= len(want) or got[i] != want[i]), None)
                if first is None:
                    return f"{inputs()}; right samples, but the global random state was used"
                return (f"{inputs()}; experiment {first} returned {brief(got[first]) if first < len(got) else 'nothing'}"
                        f", expected {brief(want[first]) if first < len(want) else 'nothing'}"
                        + (f"; error: {err[:80]}" if err else ""))

            detail = hidden_detail(wrong)
            break
    r.add(d, good, 2, "wrong on hidden labels, seeds and sizes", detail=detail)
