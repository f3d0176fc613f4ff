"""Checks for the Improve level (solutions/improve/improve.ipynb): distillation loss, paraphrase mining and a
token edit, ensembles (temperature-aware averaging, stacking on the held-out slice), calibration (temperature
scaling, expected calibration error), error analysis, and the significance of a gain (exact McNemar).

The reference implementations of the exercises live here (never in textclass). Every check accepts any return
value -- None, a wrong type, NaN, an exception -- and scores it without raising."""
from __future__ import annotations

import math

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
from autograder.checks._plain import same, scored, short
from autograder.harnesses import improve as harnesses


def _softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _array(out, dtype=float):
    """``out`` as a numpy array, or None when it cannot be one (lists, tuples and arrays all work)."""
    try:
        a = np.asarray(out, dtype=dtype)
    except Exception:  # noqa: BLE001 -- a learner's object may raise anything
        return None
    return a if a.dtype != object else None


def _num(out):
    try:
        if isinstance(out, bool):
            return None
        v = float(np.asarray(out, dtype=float).reshape(()))
        return v if math.isfinite(v) else None
    except Exception:  # noqa: BLE001 -- a learner's object may raise anything
        return None


# ======================================================================================= McNemar
def mcnemar_exact(pred_a, pred_b, labels) -> float:
    """Reference: two-sided exact McNemar p-value (binomial test on the discordant pairs, p = 1/2)."""
    a_right = np.asarray(pred_a) == np.asarray(labels)
    b_right = np.asarray(pred_b) == np.asarray(labels)
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


# (60, 45, 0, 0): b + c = 0; (300, 250, 8, 8): b == c, where 2 x the tail is above 1 unless capped
_CASES = [(872, 760, 10, 25, 1), (872, 780, 12, 14, 2), (200, 150, 9, 1, 3), (60, 45, 0, 0, 4), (300, 250, 8, 8, 5)]


@scored("significance of a gain on the same sentences (paired_significance)")
def check_paired_significance(r, paired_significance) -> None:
    rng = secret_rng("check_paired_significance")
    n = int(rng.integers(300, 900))
    oa, ob = int(rng.integers(0, 30)), int(rng.integers(0, 30))
    cases = _CASES + [(n, int(rng.integers(n // 2, n - oa - ob)), oa, ob, int(rng.integers(10**6)))]
    per = 10 / len(cases)
    for i, (n, both, oa, ob, seed) in enumerate(cases):
        a, b, labels = _case(n, both, oa, ob, seed)
        desc = ("hidden case: " if i >= len(_CASES) else "") + f"{n} sentences, {oa} only A right, {ob} only B right"
        ok, out = safe_call(r, desc, per, paired_significance, a, b, labels)
        if not ok:
            continue
        pair = _array(out)
        if pair is None or pair.shape != (2,) or not np.isfinite(pair).all():
            r.add(desc, False, per, f"got {short(out)}; return a pair (gain_in_points, p_value) of numbers")
            continue
        gain, p = (float(x) for x in pair)
        want_gain = 100 * (ob - oa) / n
        want_p = mcnemar_exact(a, b, labels)
        r.add(desc + ": gain of B over A in points", abs(gain - want_gain) < 1e-6, 0.3,
              f"got {gain:.4f}, expected {want_gain:.4f} (percent points, B minus A)")
        in_range = 0.0 <= p <= 1.0
        r.add(desc + ": p-value is a probability, in [0, 1]", in_range, 0.2,
              f"got p = {p:.4g}; a p-value is never above 1 (cap 2 x tail at 1; p = 1 when b + c = 0)")
        r.add(desc + ": exact McNemar p-value", abs(p - want_p) < 1e-6, per - 0.5,
              f"got p = {p:.4g}, an independent exact McNemar gives {want_p:.4g}"
              + (" (above 1: cap 2 x the tail at 1)" if p > 1 else
                 " (too large: an unpaired test ignores that both models saw the same sentences, and a "
                 "chi-squared approximation is not the exact binomial test)" if p > want_p else ""))


# ================================================================================== distillation
def reference_distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels), batch means."""
    import torch
    import torch.nn.functional as F

    t = float(temperature)
    kl = F.kl_div(F.log_softmax(student_logits / t, -1), F.softmax(teacher_logits / t, -1),
                  reduction="batchmean") * t * t
    return alpha * kl + (1 - alpha) * F.cross_entropy(student_logits, labels)


_DISTILL = [(2.0, 0.5), (4.0, 1.0), (1.0, 0.0), (3.0, 0.7)]


@scored("distillation loss: KL to the teacher at temperature T, mixed with the hard label")
def check_distillation_loss(r, distillation_loss) -> None:
    rng = secret_rng("check_distillation_loss")
    cases = list(_DISTILL) + [(float(np.round(rng.uniform(1.5, 5), 2)), float(np.round(rng.uniform(0.2, 0.9), 2)))]
    per = 10 / len(cases)
    for k, (temp, alpha) in enumerate(cases):
        g = np.random.default_rng(100 + k if k < len(_DISTILL) else int(rng.integers(10**6)))
        n, classes = 6, 2 + (k % 2)
        kw = {"student": (g.normal(0, 2, (n, classes))).round(4).tolist(),
              "teacher": (g.normal(0, 3, (n, classes))).round(4).tolist(),
              "labels": g.integers(0, classes, n).tolist(), "temperature": temp, "alpha": alpha}
        desc = ("hidden case: " if k >= len(_DISTILL) else "") + f"T = {temp:g}, alpha = {alpha:g}, {classes} classes"
        try:
            got = run_in_harness(distillation_loss, harnesses.distillation_run, **kw)
        except Exception as exc:  # noqa: BLE001
            r.add(desc, False, per, f"raised {type(exc).__name__}: {exc}")
            continue
        want = harnesses.distillation_run(reference_distillation_loss, **kw)
        if not isinstance(got, dict) or got.get("error") or got.get("loss") is None:
            r.add(desc, False, per, (got.get("error") if isinstance(got, dict) else None) or f"got {short(got)}")
            continue
        loss_ok = abs(got["loss"] - want["loss"]) <= 1e-4 * max(1.0, abs(want["loss"]))
        hint = ""
        if not loss_ok:
            tt = temp * temp
            if alpha and abs(got["loss"] - (want["loss"] - alpha * (1 - 1 / tt) * _kl_part(kw))) < 1e-4 * max(1, want["loss"]):
                hint = " -- multiply the KL term by T^2 (otherwise its gradients shrink as 1/T^2)"
        r.add(desc + ": loss value", loss_ok, per * 0.6,
              f"got {got['loss']:.5f}, expected {want['loss']:.5f}{hint} (batch mean of "
              "alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross-entropy)")
        grad_ok = got.get("grad") is not None and np.allclose(got["grad"], want["grad"], atol=1e-5, rtol=1e-4)
        r.add(desc + ": gradient reaches the student's logits", grad_ok, per * 0.4,
              "the loss must be a differentiable torch expression of student_logits (no .item(), no numpy)"
              if loss_ok or got.get("grad") is None else "the gradient follows from the loss: fix its value first")


def _kl_part(kw):
    """T^2 * KL term of the reference (for the 'forgot T^2' hint)."""
    t = kw["temperature"]
    ps, pt = _softmax(np.asarray(kw["student"]) / t), _softmax(np.asarray(kw["teacher"]) / t)
    return float((pt * (np.log(pt) - np.log(ps))).sum(1).mean()) * t * t


# ================================================================================== augmentation
def reference_mine_paraphrases(pool_emb, train_emb, teacher_probs, threshold, confidence):
    """Pool rows whose nearest training phrase has cosine >= threshold and whose teacher confidence is
    >= confidence, ascending; with the teacher's labels."""
    P = np.asarray(pool_emb, dtype=float)
    T = np.asarray(train_emb, dtype=float)
    P = P / np.linalg.norm(P, axis=1, keepdims=True)
    T = T / np.linalg.norm(T, axis=1, keepdims=True)
    near = (P @ T.T).max(1)
    probs = np.asarray(teacher_probs, dtype=float)
    idx = np.flatnonzero((near >= threshold) & (probs.max(1) >= confidence))
    return idx.tolist(), probs[idx].argmax(1).tolist()


def reference_drop_one_word(text, position):
    words = text.split()
    if len(words) < 3:
        return text
    del words[int(position) % len(words)]
    return " ".join(words)


def _mining_case(g, n_pool=40, n_train=25, dim=6):
    train = g.normal(0, 1, (n_train, dim)) * g.uniform(0.2, 5, (n_train, 1))   # unnormalised on purpose
    near = train[g.integers(0, n_train, n_pool)] * g.uniform(0.3, 3, (n_pool, 1)) + g.normal(0, 0.6, (n_pool, dim))
    pool = np.where(g.random((n_pool, 1)) < 0.5, near, g.normal(0, 1, (n_pool, dim)) * 4)
    p1 = g.uniform(0, 1, n_pool).round(4)
    return pool.round(4), train.round(4), np.stack([1 - p1, p1], 1)


def _on_the_confidence(pool, train, teacher, threshold, confidence, rows=3):
    """The teacher exactly at ``confidence`` on ``rows`` pool rows that pass the similarity threshold: kept by
    "at least", dropped by "above"."""
    near = reference_mine_paraphrases(pool, train, teacher, threshold, 0.0)[0][:rows]   # similar enough, any teacher
    teacher = teacher.copy()
    teacher[near] = [1 - confidence, confidence]
    return teacher


def _int_list(x):
    """A list of ints from a list, tuple or integer ndarray of ints (numpy ints too), or None: no floats, strings
    or bools."""
    if type(x) is np.ndarray and x.ndim == 1 and np.issubdtype(x.dtype, np.integer):
        return [int(v) for v in x]
    if type(x) in (list, tuple) and all(type(v) is int or type(v) in _NUMPY_INTS for v in x):
        return [int(v) for v in x]
    return None


_NUMPY_INTS = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.integer))


@scored("augmentation: paraphrase mining by cosine similarity, labelled by the teacher; a token edit")
def check_augmentation(r, mine_paraphrases, drop_one_word) -> None:
    rng = secret_rng("check_augmentation")
    cases = [(np.random.default_rng(7), 0.6, 0.9), (np.random.default_rng(8), 0.8, 0.7),
             (np.random.default_rng(int(rng.integers(10**6))), float(np.round(rng.uniform(0.5, 0.85), 2)), 0.8)]
    for i, (g, thr, conf) in enumerate(cases):
        pool, train, teacher = _mining_case(g)
        teacher = _on_the_confidence(pool, train, teacher, thr, conf)
        desc = ("hidden case: " if i == 2 else "") + f"mining at cosine >= {thr:g}, teacher confidence >= {conf:g}"
        want_idx, want_lab = reference_mine_paraphrases(pool, train, teacher, thr, conf)
        ok, out = safe_call(r, desc, 2, mine_paraphrases, pool, train, teacher, thr, conf)
        if not ok:
            continue
        pair = list(out) if type(out) in (list, tuple) and len(out) == 2 else None
        idx, lab = (_int_list(pair[0]), _int_list(pair[1])) if pair else (None, None)
        if idx is None or lab is None or len(idx) != len(lab):
            r.add(desc, False, 2, f"got {short(out)}; return (indices, labels): two lists of ints of the same length")
            continue
        hint = ""
        dot_idx = np.flatnonzero(((pool @ train.T).max(1) >= thr) & (teacher.max(1) >= conf)).tolist()
        above = np.flatnonzero(teacher.max(1) > conf)
        if idx == dot_idx and idx != want_idx:
            hint = " -- a dot product is not a cosine: normalise both sets of embeddings first"
        elif sorted(idx) == [i for i in want_idx if i in above]:
            hint = " -- 'at least' the confidence: >=, not >"
        r.add(desc + ": the right pool sentences", sorted(idx) == want_idx, 0.8,
              f"got {len(idx)} rows, expected {len(want_idx)} ({want_idx[:8]}...){hint}")
        r.add(desc + ": in ascending order", sorted(idx) == want_idx and idx == want_idx, 0.2,
              "return the kept pool rows in ascending order")
        r.add(desc + ": labelled by the teacher (argmax of its probabilities)",
              sorted(idx) == want_idx and [y for _, y in sorted(zip(idx, lab))] == want_lab, 1.0,
              "each mined sentence gets the teacher's most probable class")
    edits = [("a gripping , funny and moving film", 2), ("not good", 5), ("the plot never quite comes together", 13),
             ("a fine film", 4),   # three words: the shortest sentence that loses one
             ("a film , a mess", 3)]   # a repeated word: the one at the position goes, not the first of its kind
    extra = "an uneven but ultimately rewarding debut from a filmmaker to watch".split()
    edits.append((" ".join(extra[:int(rng.integers(4, len(extra)))]), int(rng.integers(0, 40))))
    for i, (text, pos) in enumerate(edits):
        desc = ("hidden case: " if i == len(edits) - 1 else "") + f"drop_one_word({short(text)}, {pos})"
        ok, out = safe_call(r, desc, 4 / len(edits), drop_one_word, text, pos)
        if ok:
            want = reference_drop_one_word(text, pos)
            r.add(desc, isinstance(out, str) and out == want, 4 / len(edits), f"got {short(out)}, expected {short(want)} (drop word position % number of words; "
                                        "sentences under 3 words stay as they are)")


# ===================================================================================== ensembles
def reference_average_probabilities(member_logits, temperatures):
    L = np.asarray(member_logits, dtype=float)
    T = np.asarray(temperatures, dtype=float).reshape(-1, 1, 1)
    return _softmax(L / T).mean(0)


def reference_stacking(held_probs, held_labels, other_probs):
    from sklearn.linear_model import LogisticRegression

    stack = LogisticRegression(max_iter=1000).fit(np.asarray(held_probs), np.asarray(held_labels))
    return stack.predict_proba(np.asarray(other_probs))[:, 1]


def _members(g, n, m=3):
    y = g.integers(0, 2, n)
    quality = np.array([1.5, 0.5, -2.0])[:m]          # one good member, one weak, one strongly anti-correlated
    logits = []
    for q in quality:
        z = g.normal(0, 1, n) + q * (2 * y - 1)
        logits.append(np.stack([-z / 2, z / 2], 1) * g.uniform(0.5, 3))
    return np.array(logits).round(4), y


@scored("ensembles: temperature-scaled probability averaging; stacking fitted on the held-out slice")
def check_ensembles(r, average_probabilities, stacking) -> None:
    rng = secret_rng("check_ensembles")
    for k, temps in enumerate(([1.0, 1.0, 1.0], [0.5, 2.0, 4.0], [float(t) for t in np.round(rng.uniform(0.3, 3, 3), 3)])):
        g = np.random.default_rng(20 + k)
        logits, _ = _members(g, 12)
        desc = ("hidden case: " if k == 2 else "") + f"average_probabilities with temperatures {temps}"
        ok, out = safe_call(r, desc, 5 / 3, average_probabilities, logits, list(temps))
        if ok:
            got, want = _array(out), reference_average_probabilities(logits, temps)
            good = got is not None and got.shape == want.shape and np.allclose(got, want, atol=1e-6)
            hint = ""
            if not good and got is not None and got.shape == want.shape and np.allclose(got, _softmax(logits).mean(0), atol=1e-6):
                hint = " -- divide each member's logits by its own fitted temperature before the softmax"
            r.add(desc, good, 5 / 3, f"expected the mean over members of softmax(logits / T), shape {want.shape}{hint}")
    seed = int(rng.integers(10**6))
    for k, s in enumerate((31, seed)):
        g = np.random.default_rng(s)
        logits, y = _members(g, 300)
        probs1 = _softmax(logits)[..., 1].T.round(5)        # (n, members): class-1 probabilities
        held, held_y, other = probs1[:150], y[:150], probs1[150:]
        desc = ("hidden case: " if k else "") + "stacking fitted on the held-out slice"
        ok, out = safe_call(r, desc, 2.5, stacking, held, held_y, other)
        if not ok:
            continue
        got, want = _array(out), reference_stacking(held, held_y, other)
        if got is not None and got.ndim == 2 and got.shape == (len(other), 2):
            got = got[:, 1]
        good = (got is not None and got.shape == want.shape and np.isfinite(got).all()
                and np.abs(got - want).max() < 5e-3)   # the named model: LogisticRegression(max_iter=1000)
        r.add(desc, good, 2.5, "expected the class-1 probabilities of LogisticRegression(max_iter=1000) fitted "
                               "on (held_probs, held_labels) only, applied to other_probs")


# =================================================================================== calibration
def _nll(logits, labels, t):
    p = _softmax(np.asarray(logits, dtype=float) / t)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())


def reference_fit_temperature(logits, labels):
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=int)
    res = minimize_scalar(lambda lt: _nll(logits, labels, math.exp(lt)), bounds=(-4, 4), method="bounded",
                          options={"xatol": 1e-6})
    return math.exp(res.x)


def reference_ece(probs, labels, n_bins=10, *, closed_below=False):
    """The ECE with (lo, hi] bins; ``closed_below``: with [lo, hi) bins, the off-by-one of an edge (for its hint)."""
    probs = np.asarray(probs, dtype=float)
    conf, pred = probs.max(1), probs.argmax(1)
    right = pred == np.asarray(labels)
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="right" if closed_below else "left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(right[sel].mean() - conf[sel].mean())
    return float(ece)


def _calib_case(g, n, scale):
    y = g.integers(0, 2, n)
    z = g.normal(0, 1.2, n) + 1.0 * (2 * y - 1)
    return (np.stack([-z, z], 1) * scale).round(4), y


@scored("calibration: temperature scaling on the held-out slice, expected calibration error")
def check_calibration(r, fit_temperature, expected_calibration_error) -> None:
    rng = secret_rng("check_calibration")
    temp_cases = [(3.0, 1), (0.4, 2), (float(np.round(rng.uniform(0.3, 5), 2)), int(rng.integers(10**6)))]
    for scale, seed in temp_cases:
        logits, y = _calib_case(np.random.default_rng(seed), 400, scale)
        desc = (("hidden case: " if seed == temp_cases[-1][1] else "")
                + f"fit_temperature on logits {'over' if scale > 1 else 'under'}confident by about x{scale:g}")
        ok, out = safe_call(r, desc, 5 / 3, fit_temperature, logits, y)
        if not ok:
            continue
        t = _num(out)
        want = reference_fit_temperature(logits, y)
        good = t is not None and t > 0 and _nll(logits, y, t) <= _nll(logits, y, want) + 1e-3
        r.add(desc, good, 5 / 3, f"got {short(out)}, expected T close to {want:.3f} (the T > 0 minimising the "
                                 "held-out negative log-likelihood of softmax(logits / T))")
    # the public cases put 20 predictions exactly on each of some bin edges, all right or all wrong, so that
    # (lo, hi] bins and [lo, hi) bins give other numbers (0.8 and 0.9 are edges both as k/n and in np.linspace;
    # 0.6 separates only conf * n arithmetic, as linspace's sixth edge is 0.6000000000000001); on the
    # 5-bin case, 10 bins give another number too
    ece_cases = [(np.random.default_rng(3), 10, ((0.6, True), (0.8, False), (0.9, True))),
                 (np.random.default_rng(4), 5, ((0.6, True), (0.8, False))),
                 (np.random.default_rng(int(rng.integers(10**6))), int(rng.integers(4, 16)), ())]
    for g, bins, on_edges in ece_cases:
        n = 500
        p1 = np.clip(g.beta(5, 1.5, n), 1e-4, 1 - 1e-4)   # most confidences high: bins of very unequal size
        # over-confident at the top, under-confident below: the per-bin gaps differ in sign, so the number and
        # the edges of the bins change the ECE (one bin, or ignoring n_bins, gives another number)
        y = (g.random(n) < np.clip(np.where(p1 > 0.85, p1 - 0.15, p1 + 0.12), 0, 1)).astype(int)
        p1 = np.where(g.random(n) < 0.5, p1, 1 - p1)
        y = np.where(p1 >= 0.5, y, 1 - y)
        rows = g.permutation(n)[:20 * len(on_edges)].reshape(len(on_edges), 20)
        for (edge, right), at in zip(on_edges, rows):
            p1[at] = np.where(p1[at] >= 0.5, edge, 1 - edge)
            y[at] = (p1[at] > 0.5) if right else (p1[at] <= 0.5)
        probs = np.stack([1 - p1, p1], 1).round(6)
        desc = ("hidden case: " if not on_edges else "") + f"expected_calibration_error with {bins} bins on 500 predictions"
        ok, out = safe_call(r, desc, 5 / 3, expected_calibration_error, probs, y, bins)
        if not ok:
            continue
        v, want = _num(out), reference_ece(probs, y, bins)
        hint = " (as a fraction in [0, 1], not percent)" if v is not None and abs(v - 100 * want) < 1e-6 else ""
        if v is not None and not hint and abs(v - want) > 1e-6:
            hint = (" -- a confidence on an edge belongs to the bin below it: bins (lo, hi]" if on_edges and abs(
                v - reference_ece(probs, y, bins, closed_below=True)) < 1e-6 else
                " -- weight each bin's |accuracy - confidence| by its share of the predictions")
        r.add(desc, v is not None and abs(v - want) < 1e-6, 5 / 3, f"got {short(out)}, expected {want:.6f}{hint}")


# ================================================================================ error analysis
def _words(text):
    return text.lower().split()


def reference_most_confident_errors(probs, labels, k):
    probs = np.asarray(probs, dtype=float)
    wrong = np.flatnonzero(probs.argmax(1) != np.asarray(labels))
    order = wrong[np.argsort(-probs[wrong].max(1), kind="stable")]
    return order[:int(k)].tolist()


def reference_slice_accuracy(texts, predictions, labels):
    right = np.asarray(predictions) == np.asarray(labels)
    groups = {"not": lambda w: any(x == "not" or x.endswith("n't") for x in w),
              "but": lambda w: "but" in w,
              "1-10 words": lambda w: len(w) <= 10,
              "11-20 words": lambda w: 10 < len(w) <= 20,
              "21+ words": lambda w: len(w) > 20}
    out = {}
    for name, test in groups.items():
        sel = np.array([test(_words(t)) for t in texts], dtype=bool)
        out[name] = {"n": int(sel.sum()), "accuracy": float(100 * right[sel].mean()) if sel.any() else None}
    return out


# "Not" and "BUT" count once lower-cased; "nothing", "cannot" and "buttery" hold "not" / "but" without being them
_VOCAB = ("the film is n't bad but it is not good either ; a funny , moving and wise story that never "
          "quite works , but does n't bore ; sharp , warm , smart Not BUT nothing cannot buttery").split()


def _texts(g, n, max_words=29):
    return [" ".join(g.choice(_VOCAB, int(g.integers(2, max_words + 1)))) for _ in range(n)]


@scored("error analysis: most confident errors, accuracy by length and on not / but")
def check_error_analysis(r, most_confident_errors, slice_accuracy) -> None:
    rng = secret_rng("check_error_analysis")
    for k, seed in enumerate((5, int(rng.integers(10**6)))):
        g = np.random.default_rng(seed)
        n = 80
        p1 = g.uniform(0, 1, n).round(6)
        y = g.integers(0, 2, n)
        tied = np.flatnonzero((p1 > 0.5).astype(int) != y)[-3:]   # the last three errors tie as the most confident:
        p1[tied] = np.where(p1[tied] > 0.5, 1.0, 0.0)              # the earliest of them first, before earlier rows
        probs = np.stack([1 - p1, p1], 1)
        desc = ("hidden case: " if k else "") + f"most_confident_errors, 5 of {int((probs.argmax(1) != y).sum())} errors"
        ok, out = safe_call(r, desc, 2, most_confident_errors, probs, y, 5)
        if ok:
            want = reference_most_confident_errors(probs, y, 5)
            got = _array(out, dtype=float)
            good = (got is not None and got.ndim == 1 and bool(np.isfinite(got).all())
                    and got.tolist() == [float(i) for i in want])
            r.add(desc, good, 2, f"got {short(out)}, expected {want}: indices of wrong predictions, most confident first "
                                 "(ties: the earlier index first)")
        texts = _texts(g, n, 29 if k == 0 else 20)   # the second case has no sentence of 21+ words
        pred = (p1 > 0.5).astype(int)
        desc = ("hidden case: " if k else "") + "slice_accuracy on not / but / length groups"
        ok, out = safe_call(r, desc, 3, slice_accuracy, texts, pred, y)
        if not ok:
            continue
        want = reference_slice_accuracy(texts, pred, y)
        if not isinstance(out, dict):
            r.add(desc, False, 3, f"got {type(out).__name__}; return a dict keyed {list(want)}")
            continue
        for name, w in want.items():
            got = out.get(name)
            good = isinstance(got, dict) and same(got.get("n"), w["n"]) and (
                (w["accuracy"] is None and got.get("accuracy") is None)
                or (w["accuracy"] is not None and _num(got.get("accuracy")) is not None
                    and abs(_num(got.get("accuracy")) - w["accuracy"]) < 1e-4))
            r.add(f"{desc}: {short(name)}", good, 3 / len(want),
                  f"got {short(got)}, expected {w} (words = text.lower().split(); 'not' also counts words ending in n't; "
                  "whole words only; accuracy in percent, None for a group with no sentence)")
