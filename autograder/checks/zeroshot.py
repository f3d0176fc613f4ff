"""Checks for the Zero-shot level's exercises (solutions/zeroshot/zeroshot.ipynb).

Every check calls the learner's function with plain data only, reads the answer by value, never raises, and
adds hidden cases drawn from the instructor's secret (:func:`secret_rng`).
"""
from __future__ import annotations

import functools
import math
import re

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
from autograder.checks._plain import as_array, brief, hidden_detail, note_raised, scored, short, unpack
from autograder.harnesses import zeroshot as harnesses

BASELINE = 70.6  # all-MiniLM-L6-v2 with "This is a negative/positive review." on SST-2 validation


# ------------------------------------------------------------------------------------------ references
def _cosine(s, l):
    s = np.asarray(s, dtype=float)
    l = np.asarray(l, dtype=float)
    s = s / np.clip(np.linalg.norm(s, axis=1, keepdims=True), 1e-12, None)
    l = l / np.clip(np.linalg.norm(l, axis=1, keepdims=True), 1e-12, None)
    return s @ l.T


def _softmax(scores, t):
    z = np.asarray(scores, dtype=float) / t
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _coverage(probs, labels, thresholds):
    probs, labels = np.asarray(probs), np.asarray(labels)
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    cov, acc = [], []
    for t in thresholds:
        answered = conf >= t
        cov.append(100 * answered.mean())
        acc.append(100 * correct[answered].mean() if answered.any() else float("nan"))
    return np.array(cov), np.array(acc)


def _intent(name):
    return re.sub(r"\s+", " ", re.sub(r"[_?]", " ", name)).strip().lower()


# ------------------------------------------------------------------------------------------------ (a)
@scored("cosine scorer (cosine_scores)")
def check_cosine_scores(r, cosine_scores):
    """(a) the (n, k) matrix of cosine similarities, for inputs that are not normalised."""
    rng = np.random.RandomState(0)
    s = rng.randn(6, 5) * rng.uniform(0.1, 10, size=(6, 1))  # rows of very different lengths
    l = rng.randn(3, 5) * np.array([[0.2], [1.0], [7.0]])
    want = _cosine(s, l)
    d = "shape (n sentences, k classes)"
    ok, out = safe_call(r, d, 2, cosine_scores, s, l)
    if ok:
        got = as_array(out)
        shape = None if got is None else got.shape
        r.add(d, shape == (6, 3), 2, f"got shape {shape}, expected (6, 3): sentences x classes")
        good = shape == (6, 3) and np.allclose(got, want, atol=1e-5)
        dot = shape == (6, 3) and np.allclose(got, s @ l.T, atol=1e-5)
        r.add("cosine similarity, normalising both sides", good, 4,
              "divide each row by its length (np.linalg.norm(..., axis=1, keepdims=True)) before the dot product"
              + (" -- you returned raw dot products" if dot else ""))
        r.add("values lie in [-1, 1]", shape == (6, 3) and bool(np.all(np.abs(got) <= 1 + 1e-6)),
              1, "cosine similarities are between -1 and 1 (one per sentence and class)")
    d = "scale-invariant and works for one sentence / one class"
    ok, out = safe_call(r, d, 1, cosine_scores, np.array([[3.0, 4.0]]), np.array([[0.6, 0.8], [-4.0, 3.0]]))
    if ok:
        got = as_array(out, shape=(1, 2))
        r.add(d, got is not None and np.allclose(got, [[1.0, 0.0]], atol=1e-6), 1,
              f"got {short(out)}, expected [[1.0, 0.0]]")
    d = "hidden cases (drawn from the instructor's secret)"
    srng = secret_rng("check_cosine_scores")
    good, detail = True, ""
    for _ in range(3):
        n, k, dim = (int(x) for x in srng.integers([1, 1, 2], [12, 6, 40]))
        s = srng.normal(size=(n, dim)) * srng.uniform(0.01, 50, size=(n, 1))
        l = srng.normal(size=(k, dim)) * srng.uniform(0.01, 50, size=(k, 1))
        inputs = (lambda: f"sentences {n}x{dim} (row norms {brief(np.linalg.norm(s, axis=1), 4)}), "
                             f"labels {k}x{dim} (row norms {brief(np.linalg.norm(l, axis=1), 4)})")
        ok, out = safe_call(r, d, 2, cosine_scores, s, l)
        if not ok:
            return note_raised(r, d, inputs)
        got = as_array(out, shape=(n, k))
        if got is None or not np.allclose(got, _cosine(s, l), atol=1e-5):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned " + (
                f"shape {np.shape(got)} {brief(got, 2)}" if got is not None else brief(out, 2))
                + f"; expected shape ({n}, {k}) {brief(_cosine(s, l), 2)}")
            break
    r.add(d, good, 2, "wrong on hidden inputs of other shapes and lengths", detail=detail)


# ------------------------------------------------------------------------------------------------ (b)
def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", str(text).lower()).split())


def _validation_sentence_in(text: str, long_validation) -> str | None:
    """The SST-2 validation sentence (five or more words) a description holds (a junk word added), or whose words
    it mostly shares (five or more shared, Jaccard >= 0.6: a word or two changed or dropped); None for a
    description of its own (a short one like "a warm and funny film" shares too few words to count)."""
    words = set(text.split())
    for v, w in long_validation:
        shared = len(words & w)
        if v in text or (shared >= 5 and shared >= 0.6 * len(words | w)):
            return v
    return None


def _default_minilm_sst2():
    """all-MiniLM-L6-v2 and SST-2 validation, loaded here (the grader's own copies, never the learner's)."""
    from textclass import data, models, probe

    enc = models.load_encoder(models.MINILM)
    validation = data.load_sst2("validation")
    return (lambda texts: probe.encode(enc, list(texts), progress=False)), list(validation["sentence"]), \
        np.array(validation["label"])


@functools.lru_cache(maxsize=1)
def _sst2_train_sentences() -> frozenset:
    """Normalised SST-2 train sentences of five or more words (shorter phrases are ordinary descriptions)."""
    try:
        from textclass import data

        return frozenset(_norm(s) for s in data.load_sst2("train")["sentence"] if len(s.split()) >= 5)
    except Exception:  # noqa: BLE001 -- without the train split only validation copies are detected
        return frozenset()


@scored("engineered label descriptions (my_label_descriptions)")
def check_my_label_descriptions(r, my_label_descriptions, encode=None, sentences=None, labels=None,
                             baseline: float = BASELINE):
    """(b) several descriptions per class, averaged (the reference ``class_embeddings``), beat the baseline.

    The learner's function is called with no argument (plain data back). ``encode`` (all-MiniLM-L6-v2,
    ``list of str -> array``) and ``sentences``/``labels`` (SST-2 validation) default to the grader's own copies;
    tests pass them to reuse a loaded encoder. Zero-shot must not use labelled data: descriptions copied from
    SST-2 validation sentences of five or more words (or holding one, or most of one's words) score no accuracy,
    descriptions that are SST-2 training phrases of five or more words are left out (the rest is scored), and
    descriptions that change when every dataset ``textclass.data`` loads has its labels permuted (a harness,
    seeded from the secret) score no accuracy. Descriptions chosen with labelled data elsewhere (another cell, a
    cache, a file read directly) cannot be told from one's own: the instructor reads the cell.
    Full marks at >= baseline + 1 point; the accuracy part falls linearly to 0 at the baseline.
    """
    acc_desc = f"beats the baseline {baseline}% on SST-2 validation with all-MiniLM-L6-v2"
    d = "two classes, at least two non-empty descriptions each"
    ok, out = safe_call(r, d, 2, my_label_descriptions)
    if not ok:
        r.add(acc_desc, False, 8, "no descriptions to score")
        return
    classes = unpack(out, 2)
    shaped = classes is not None and all(
        isinstance(c, (list, tuple)) and len(c) >= 2 and all(isinstance(x, str) and x.strip() for x in c)
        for c in classes)
    r.add(d, shaped, 2, f"got {short(out)}: return [[negative descriptions...], [positive descriptions...]], "
          "two or more each")
    usable = classes is not None and all(
        (isinstance(c, str) and c.strip()) or (isinstance(c, (list, tuple)) and c and
                                               all(isinstance(x, str) and x.strip() for x in c)) for c in classes)
    if not usable:
        r.add(acc_desc, False, 8, "cannot score these descriptions")
        return
    given = descriptions = _as_lists(classes)
    if encode is None or sentences is None or labels is None:
        encode, sentences, labels = _default_minilm_sst2()
    flat = [x for c in descriptions for x in c]
    validation_set = {_norm(s) for s in sentences}
    train_set = _sst2_train_sentences()
    long_validation = [(v, set(v.split())) for v in validation_set if len(v.split()) >= 5]
    leaked = []   # (description, the validation sentence it is)
    for x in flat:
        n = _norm(x)
        # a validation sentence of five words or more, or most of one; a short one ("bad", "very bad") is also
        # an ordinary description, as with training phrases
        v = n if (n in validation_set and len(n.split()) >= 5) else _validation_sentence_in(n, long_validation)
        if v:
            leaked.append((x, v))
    if leaked:
        x, v = leaked[0]
        r.add(acc_desc, False, 8, f"{len(leaked)} description(s) are SST-2 validation sentences, or hold one (e.g. "
              f"{short(x, 60)}, which is the validation sentence {short(v, 60)}); zero-shot describes the "
              "classes, it does not copy labelled data")
        return
    # an SST-2 training phrase of five or more words is left out (copying labelled data earns nothing), the rest
    # is scored: an ordinary description may coincide with one of the 67,349 phrases
    left_out = [x for x in flat if _norm(x) in train_set]
    note = ""
    if left_out:
        descriptions = [[x for x in c if _norm(x) not in train_set] for c in descriptions]
        if not all(descriptions):
            r.add(acc_desc, False, 8, "every description of a class is an SST-2 training phrase (e.g. "
                  f"{short(left_out[0], 60)}): zero-shot describes the classes, it does not copy labelled data")
            return
        note = (f"; {len(left_out)} description(s) left out as SST-2 training phrases (e.g. {short(left_out[0], 60)}): "
                "write your own")
    seed = int(secret_rng("check_my_label_descriptions").integers(0, 2**31 - 1))
    ok, again = safe_call(r, "the same descriptions when the training labels are shuffled", 0,
                          run_in_harness, my_label_descriptions, harnesses.descriptions_with_permuted_labels,
                          seed=seed)
    # compared as lists of strings: through the grader's proxy a tuple arrives as a list, in a notebook it stays one
    same = ok and _as_lists(again) in (descriptions, given)
    if ok and not same:
        r.add(acc_desc, False, 8, "your descriptions change when the labels of the data sets are shuffled: "
              "zero-shot must not use labelled training data (describe the classes in your own words)",
              detail=hidden_detail(lambda: f"labels permuted with seed={seed}: returned {brief(_as_lists(again), 4)}; "
                                   f"without the permutation {brief(given, 4)}"))
        return
    from textclass import zeroshot as zs

    emb = np.asarray(encode(list(sentences)))
    preds, _ = zs.zero_shot_predict(emb, encode, descriptions)
    acc = 100 * float((np.asarray(preds) == np.asarray(labels)).mean())
    target = baseline + 1.0
    # nothing at or below the baseline (its own prompts, reworded, are not engineering), full marks a point above
    earned = 8.0 if acc >= target else max(0.0, 8.0 * (acc - baseline) / (target - baseline))
    r.parts.append((f"{acc_desc} (got {acc:.2f}%, full marks at >= {target:.1f}%)", round(earned, 2), 8.0,
                    ("" if earned >= 8 else "try sentences that look like movie reviews, several per class") + note))


def _as_lists(classes):
    """Descriptions as a list of lists of strings, whatever sequences they came in (None when they are not)."""
    try:
        return [[c] if isinstance(c, str) else [str(x) for x in c] for c in classes]
    except TypeError:
        return None


# ------------------------------------------------------------------------------------------------ (c)
@scored("probabilities and abstention (softmax_with_temperature, coverage_curve)")
def check_softmax_with_temperature(r, softmax_with_temperature, coverage_curve):
    """(c) temperature softmax (stable, rows are probabilities), and coverage / accuracy on the answered."""
    scores = np.array([[0.30, 0.10], [0.20, 0.25], [0.50, 0.48], [0.05, 0.40]])
    d = "rows are probabilities: softmax(scores / temperature)"
    ok, out = safe_call(r, d, 2, softmax_with_temperature, scores, 0.1)
    if ok:
        got = as_array(out, shape=scores.shape)
        r.add(d, got is not None and np.allclose(got, _softmax(scores, 0.1), atol=1e-6), 2,
              "p_k = exp(s_k / T) / sum_j exp(s_j / T), row by row")
    d = "the temperature sharpens: T = 1 is nearly uniform, T = 0.01 nearly one-hot"
    ok, a = safe_call(r, d, 1, softmax_with_temperature, scores, 1.0)
    ok2, b = (safe_call(r, d, 1, softmax_with_temperature, scores, 0.01) if ok else (False, None))
    if ok and ok2:
        a, b = as_array(a, shape=scores.shape), as_array(b, shape=scores.shape)
        r.add(d, a is not None and b is not None and np.allclose(a, _softmax(scores, 1.0), atol=1e-6)
              and np.allclose(b, _softmax(scores, 0.01), atol=1e-6), 1, "divide the scores by the temperature "
              "before exp")
    d = "numerically stable: tiny temperatures and large scores give no nan or inf"
    ok, out = safe_call(r, d, 1, softmax_with_temperature, np.array([[0.9, 0.8], [0.99, 0.2], [800.0, 790.0]]), 1e-4)
    if ok:
        got = as_array(out, shape=(3, 2))
        r.add(d, got is not None and bool(np.all(np.isfinite(got))) and np.allclose(got, [[1, 0], [1, 0], [1, 0]],
                                                                                     atol=1e-6), 1,
              "subtract each row's maximum before exp")
    d = "hidden cases: probabilities in [0, 1], rows sum to 1 (drawn from the instructor's secret)"
    srng = secret_rng("check_softmax_with_temperature")
    good, detail = True, ""
    for case in range(3):
        n, k = int(srng.integers(1, 9)), int(srng.integers(2, 6))
        sc = srng.normal(size=(n, k)) * float(srng.choice([0.1, 1.0, 30.0]))
        t = float(srng.choice([0.005, 0.05, 0.5, 2.0]))
        if case == 0:   # scores / T far beyond exp's range (about 710): only a max-subtracted softmax stays finite
            sc, t = sc.copy(), float(srng.choice([0.01, 0.02]))
            sc[np.arange(n), srng.integers(0, k, size=n)] = np.abs(sc).max() + float(srng.uniform(20, 60))
        inputs = (lambda: f"softmax_with_temperature(scores, {t!r}) with scores {n}x{k}={brief(sc, 4)}")
        ok, out = safe_call(r, d, 1, softmax_with_temperature, sc, t)
        if not ok:
            return note_raised(r, d, inputs)
        got = as_array(out, shape=(n, k))
        if (got is None or not np.all(np.isfinite(got)) or got.min() < -1e-12 or got.max() > 1 + 1e-12
                or not np.allclose(got.sum(axis=1), 1) or not np.allclose(got, _softmax(sc, t), atol=1e-6)):
            good = False
            detail = hidden_detail(lambda: f"{inputs()}; returned {brief(out, 4)}; expected {brief(_softmax(sc, t), 4)}")
            break
    r.add(d, good, 1, "wrong on hidden scores/temperatures: every row must be a probability distribution",
          detail=detail)

    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45], [0.3, 0.7], [0.7, 0.3], [0.05, 0.95]])
    labels = np.array([0, 1, 0, 1, 1, 1, 1])
    thresholds = [0.5, 0.65, 0.7, 0.99]
    d = "coverage in percent per threshold (>= threshold is answered)"
    ok, out = safe_call(r, d, 1.5, coverage_curve, probs, labels, thresholds)
    if ok:
        pair = unpack(out, 2)
        cov = as_array(pair[0], shape=(4,)) if pair else None
        acc = as_array(pair[1], shape=(4,)) if pair else None
        want_cov, want_acc = _coverage(probs, labels, thresholds)
        r.add(d, cov is not None and np.allclose(cov, want_cov), 1.5,
              f"got {short(pair[0] if pair else out)}, expected {np.round(want_cov, 2).tolist()}"
              + (" (percent, not fractions)" if cov is not None and np.allclose(cov * 100, want_cov) else ""))
        r.add("accuracy counts only the answered sentences, in percent",
              acc is not None and np.allclose(acc[:3], want_acc[:3]), 1.5,
              f"got {short(pair[1] if pair else None)}, expected {np.round(want_acc, 2).tolist()}")
        r.add("nothing answered: accuracy nan, not a crash or 0", acc is not None and math.isnan(acc[3]), 1,
              "when no sentence reaches the threshold, accuracy is float('nan')")
    d = "hidden coverage cases (drawn from the instructor's secret)"
    good, detail = True, ""
    for _ in range(2):
        n, k = int(srng.integers(5, 30)), int(srng.integers(2, 5))
        p = srng.dirichlet(np.ones(k), size=n)
        y = srng.integers(0, k, size=n)
        ts = sorted(set(np.round(srng.uniform(1 / k, 1, size=4), 3).tolist()) | {float(np.round(p.max(), 6))})
        p = np.round(p, 6)
        inputs = (lambda: f"coverage_curve(probs, labels, {brief(ts)}) with probs {n}x{k}={brief(p, 4)}, "
                             f"labels={brief(y)}")
        ok, out = safe_call(r, d, 1, coverage_curve, p, y, ts)
        if not ok:
            return note_raised(r, d, inputs)
        pair = unpack(out, 2)
        cov = as_array(pair[0], shape=(len(ts),)) if pair else None
        acc = as_array(pair[1], shape=(len(ts),)) if pair else None
        want_cov, want_acc = _coverage(p, y, ts)
        if cov is None or acc is None or not np.allclose(cov, want_cov) or not np.allclose(
                acc, want_acc, equal_nan=True):
            good = False
            detail = hidden_detail(lambda: f"returned {brief(out)}; expected ({brief(want_cov)}, {brief(want_acc)}) "
                                   f"from {inputs()}")   # what came back first: the inputs are long
            break
    r.add(d, good, 1, "wrong on hidden probabilities/thresholds (a probability equal to a threshold is answered)",
          detail=detail)


# ------------------------------------------------------------------------------------------------ (d)
_WORDS = ["card", "top", "up", "refund", "Pending", "transfer", "ATM", "cash", "exchange", "rate", "PIN",
          "verify", "identity", "declined", "payment", "Apple", "pay", "fee", "charged", "why", "lost", "stolen"]


@scored("intent names as words (intent_description)")
def check_intent_description(r, intent_description):
    """(d) intent names as words."""
    cases = [("card_arrival", "card arrival", "underscores become spaces"),
             ("Refund_not_showing_up", "refund not showing up", "lower case"),
             ("reverted_card_payment?", "reverted card payment", "drop the question mark, no trailing space"),
             ("balance_not_updated_after_cheque_or_cash_deposit", "balance not updated after cheque or cash deposit",
              "every underscore"),
             ("_why__verify_identity?_", "why verify identity", "collapse runs of spaces, strip both ends")]
    for name, want, why in cases:
        d = f"intent_description({name!r}) == {want!r}"
        ok, out = safe_call(r, d, 1.6, intent_description, name)
        if ok:
            r.add(d, isinstance(out, str) and out == want, 1.6, f"got {short(out)}: {why}")
    d = "hidden intent names (drawn from the instructor's secret)"
    srng = secret_rng("check_intent_description")
    good, detail = True, ""
    for _ in range(4):
        words = [str(w) for w in srng.choice(_WORDS, size=int(srng.integers(1, 5)))]
        seps = [str(srng.choice(["_", "__", "?", "_?", " "])) for _ in words]
        name = "".join(w + s for w, s in zip(words, seps))
        name = str(srng.choice(["", "_", "?"])) + name[:-1] + str(srng.choice(["", "?", "_"]))
        ok, out = safe_call(r, d, 2, intent_description, name)
        if not ok:
            return note_raised(r, d, lambda: f"intent_description({name!r})")
        if not (isinstance(out, str) and out == _intent(name)):
            good = False
            detail = hidden_detail(lambda: f"intent_description({name!r}) returned {brief(out)}; "
                                   f"expected {_intent(name)!r}")
            break
    r.add(d, good, 2, "wrong on hidden intent names: underscores and question marks become spaces, runs of "
          "spaces collapse, strip both ends, lower case", detail=detail)
