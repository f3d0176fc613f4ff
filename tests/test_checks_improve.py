"""Improve level: for every exercise the solution's functions get full marks through the check, the blank
student versions 0, plausible wrong answers lose points (an unpaired test, no T^2, the KL direction swapped, a
softmax without temperature, a dot product for a cosine, an unweighted ECE, stacking fitted on the wrong rows,
...), and any return value is scored without raising."""
from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.checks import improve as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student

NB = ("improve", "improve")


# ------------------------------------------------------------------------------------------- McNemar
@pytest.fixture(scope="module")
def ex():
    return solution_and_student(*NB, "paired_significance")


@pytest.mark.paired_significance
def test_solution_full_marks_student_zero(ex):
    assert_full_marks_and_blank_zero(checks.check_paired_significance, ex, ("paired_significance",))


def _unpaired_z(a, b, y):
    """Two-proportion z-test: treats the two accuracies as independent samples."""
    pa, pb, n = (np.asarray(a) == y).mean(), (np.asarray(b) == y).mean(), len(y)
    pooled = (pa + pb) / 2
    se = math.sqrt(2 * pooled * (1 - pooled) / n)
    z = (pb - pa) / se if se else 0.0
    return 100 * (pb - pa), math.erfc(abs(z) / math.sqrt(2))


def _one_sided(a, b, y):
    a_r, b_r = np.asarray(a) == y, np.asarray(b) == y
    bb, c = int((a_r & ~b_r).sum()), int((~a_r & b_r).sum())
    n = bb + c
    return 100 * (b_r.mean() - a_r.mean()), sum(math.comb(n, i) for i in range(min(bb, c) + 1)) / 2 ** n


def _fraction_gain(a, b, y):
    return (np.asarray(b) == y).mean() - (np.asarray(a) == y).mean(), checks.mcnemar_exact(a, b, y)


def _uncapped(a, b, y):
    """2 x tail without the cap at 1, and 0/0 -> nan when the models never disagree."""
    a_r, b_r = np.asarray(a) == y, np.asarray(b) == y
    bb, c = int((a_r & ~b_r).sum()), int((~a_r & b_r).sum())
    n = bb + c
    p = 2 * sum(math.comb(n, i) for i in range(min(bb, c) + 1)) / 2 ** n if n else float("nan")
    return 100 * (b_r.mean() - a_r.mean()), p


def _zero_handled_but_uncapped(a, b, y):
    """b + c = 0 handled, but 2 x tail never capped at 1: above 1 whenever b == c."""
    a_r, b_r = np.asarray(a) == y, np.asarray(b) == y
    bb, c = int((a_r & ~b_r).sum()), int((~a_r & b_r).sum())
    n = bb + c
    return 100 * (b_r.mean() - a_r.mean()), (2 * sum(math.comb(n, i) for i in range(min(bb, c) + 1)) / 2 ** n if n else 1.0)


@pytest.mark.parametrize("wrong,max_expected", [(_unpaired_z, 6.5), (_one_sided, 6.0), (_fraction_gain, 9.2),
                                                (_uncapped, 8.0), (_zero_handled_but_uncapped, 8.7)])
def test_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_paired_significance(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_reference_mcnemar_known_values_and_b_plus_c_zero():
    y = np.ones(20, int)
    a, b = np.ones(20, int), np.ones(20, int)
    assert checks.mcnemar_exact(a, b, y) == 1.0
    a[:6] = 0
    assert checks.mcnemar_exact(a, b, y) == pytest.approx(2 / 64)


# ---------------------------------------------------------------------------------------- distillation
@pytest.fixture(scope="module")
def distill_ex():
    return solution_and_student(*NB, "distillation_loss")


@pytest.mark.distillation_loss
def test_distillation_solution_full_marks_student_zero(distill_ex):
    assert_full_marks_and_blank_zero(checks.check_distillation_loss, distill_ex, ("distillation_loss",))


def _distill(t2=True, swapped=False, temp=True, mix=True, sum_reduction=False):
    def loss(s, t, y, T, alpha):
        import torch.nn.functional as F

        TT = T if temp else 1.0
        if swapped:   # KL(student || teacher)
            kl = F.kl_div(F.log_softmax(t / TT, -1), F.softmax(s / TT, -1), reduction="batchmean")
        else:
            kl = F.kl_div(F.log_softmax(s / TT, -1), F.softmax(t / TT, -1),
                          reduction="sum" if sum_reduction else "batchmean")
        kl = kl * (TT * TT if t2 else 1.0)
        return alpha * kl + (1 - alpha) * F.cross_entropy(s, y) if mix else kl
    return loss


def _numpy_loss(s, t, y, T, alpha):
    return float(checks.reference_distillation_loss(s, t, y, T, alpha).detach())  # a float: no gradient


@pytest.mark.parametrize("wrong,max_expected", [
    (_distill(t2=False), 3.0), (_distill(swapped=True), 3.0), (_distill(temp=False), 3.0),
    (_distill(mix=False), 5.0), (_distill(sum_reduction=True), 3.0), (_numpy_loss, 0)])
def test_distillation_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_distillation_loss(wrong)
    assert r.score <= max_expected + 1e-9 < r.max_score, r.report()


# ---------------------------------------------------------------------------------------- augmentation
@pytest.fixture(scope="module")
def aug_ex():
    return solution_and_student(*NB, "augmentation")


@pytest.mark.augmentation
def test_augmentation_solution_full_marks_student_zero(aug_ex):
    assert_full_marks_and_blank_zero(checks.check_augmentation, aug_ex, ("mine_paraphrases", "drop_one_word"))


def _dot_product(pool, train, teacher, thr, conf):
    near = (np.asarray(pool) @ np.asarray(train).T).max(1)
    idx = np.flatnonzero((near >= thr) & (np.asarray(teacher).max(1) >= conf))
    return idx.tolist(), np.asarray(teacher)[idx].argmax(1).tolist()


def _no_confidence(pool, train, teacher, thr, conf):
    return checks.reference_mine_paraphrases(pool, train, teacher, thr, 0.0)


def _gold_like_labels(pool, train, teacher, thr, conf):
    idx, _ = checks.reference_mine_paraphrases(pool, train, teacher, thr, conf)
    return idx, [1] * len(idx)


def _drop_first(text, position):
    words = text.split()
    return " ".join(words[1:]) if len(words) >= 3 else text


def _three_words_unchanged(text, position):   # "fewer than 3 words" read as "3 or fewer"
    return text if len(text.split()) <= 3 else checks.reference_drop_one_word(text, position)


def _strictly_above(pool, train, teacher, thr, conf):   # "at least" read as "above"
    idx, _ = checks.reference_mine_paraphrases(pool, train, teacher, thr, conf)
    keep = [i for i in idx if np.asarray(teacher)[i].max() > conf]
    return keep, np.asarray(teacher)[keep].argmax(1).tolist()


def _descending(pool, train, teacher, thr, conf):
    idx, lab = checks.reference_mine_paraphrases(pool, train, teacher, thr, conf)
    return idx[::-1], lab[::-1]


def _flipped_labels(pool, train, teacher, thr, conf):
    idx, lab = checks.reference_mine_paraphrases(pool, train, teacher, thr, conf)
    return idx, [1 - y for y in lab]


def _string_indices(pool, train, teacher, thr, conf):
    idx, lab = checks.reference_mine_paraphrases(pool, train, teacher, thr, conf)
    return [str(i) for i in idx], lab


def _remove_first_of_its_kind(text, position):   # list.remove: the first "a", not the one at the position
    words = text.split()
    if len(words) < 3:
        return text
    words.remove(words[position % len(words)])
    return " ".join(words)


@pytest.mark.parametrize("mine,drop,max_expected", [
    (_strictly_above, checks.reference_drop_one_word, 6.0),
    (_descending, checks.reference_drop_one_word, 9.4),
    (_flipped_labels, checks.reference_drop_one_word, 7.0),
    (_string_indices, checks.reference_drop_one_word, 4.0),
    (checks.reference_mine_paraphrases, _remove_first_of_its_kind, 9.4),
    (_dot_product, checks.reference_drop_one_word, 8.0),
    (_no_confidence, checks.reference_drop_one_word, 8.0),
    (_gold_like_labels, checks.reference_drop_one_word, 9.0),
    (checks.reference_mine_paraphrases, _drop_first, 8.0),
    (checks.reference_mine_paraphrases, _three_words_unchanged, 9.4)])
def test_augmentation_wrong_answers_lose_points(mine, drop, max_expected):
    r = checks.check_augmentation(mine, drop)
    assert r.score <= max_expected + 1e-9 < r.max_score, r.report()


# ------------------------------------------------------------------------------------------- ensembles
@pytest.fixture(scope="module")
def ens_ex():
    return solution_and_student(*NB, "ensembles")


@pytest.mark.ensembles
def test_ensembles_solution_full_marks_student_zero(ens_ex):
    assert_full_marks_and_blank_zero(checks.check_ensembles, ens_ex, ("average_probabilities", "stacking"))


def _softmax_without_temperature(logits, temps):
    L = np.asarray(logits, dtype=float)
    e = np.exp(L - L.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).mean(0)


def _stack_on_other(held, y, other):
    """Fits on the rows it is asked about, with pseudo-labels from the average: not the held-out slice."""
    from sklearn.linear_model import LogisticRegression

    other = np.asarray(other)
    pseudo = (other.mean(1) > 0.5).astype(int)
    return LogisticRegression(max_iter=1000).fit(other, pseudo).predict_proba(other)[:, 1]


def _average_instead_of_stacking(held, y, other):
    return np.asarray(other).mean(1)


def _logistic_c05(held, y, other):   # another regularisation than the exercise's model
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=0.5, max_iter=1000).fit(held, y).predict_proba(other)[:, 1]


def _clipped_linear(held, y, other):   # a linear regression's scores clipped to [0, 1]: not probabilities
    from sklearn.linear_model import LinearRegression
    return np.clip(LinearRegression().fit(held, y).predict(other), 0, 1)


@pytest.mark.parametrize("avg,stack,max_expected", [
    (checks.reference_average_probabilities, _logistic_c05, 5.0),
    (checks.reference_average_probabilities, _clipped_linear, 5.0),
    (_softmax_without_temperature, checks.reference_stacking, 7.0),
    (checks.reference_average_probabilities, _stack_on_other, 5.0),
    (checks.reference_average_probabilities, _average_instead_of_stacking, 5.0)])
def test_ensembles_wrong_answers_lose_points(avg, stack, max_expected):
    r = checks.check_ensembles(avg, stack)
    assert r.score <= max_expected + 1e-9 < r.max_score, r.report()


# ------------------------------------------------------------------------------------------ calibration
@pytest.fixture(scope="module")
def cal_ex():
    return solution_and_student(*NB, "calibration")


@pytest.mark.calibration
def test_calibration_solution_full_marks_student_zero(cal_ex):
    assert_full_marks_and_blank_zero(checks.check_calibration, cal_ex, ("fit_temperature", "expected_calibration_error"))


def _ece_unweighted(probs, labels, n_bins=10):
    probs = np.asarray(probs, dtype=float)
    conf, right = probs.max(1), probs.argmax(1) == np.asarray(labels)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    gaps = [abs(right[bins == b].mean() - conf[bins == b].mean()) for b in range(n_bins) if (bins == b).any()]
    return float(np.mean(gaps))


def _ece_percent(probs, labels, n_bins=10):
    return 100 * checks.reference_ece(probs, labels, n_bins)


def _temperature_one(logits, labels):
    return 1.0


def _coarse_grid(logits, labels):   # T in {0.5, 1, 2}: too coarse
    return min((0.5, 1.0, 2.0), key=lambda t: checks._nll(logits, np.asarray(labels), t))


def _ece_one_bin(probs, labels, n_bins=10):   # |accuracy - confidence| over everything: no bins
    return checks.reference_ece(probs, labels, 1)


def _ece_ten_bins_always(probs, labels, n_bins=10):   # n_bins ignored
    return checks.reference_ece(probs, labels, 10)


def _ece_closed_below(probs, labels, n_bins=10):   # [lo, hi) bins: a confidence on an edge goes one bin up
    probs = np.asarray(probs, dtype=float)
    conf, right = probs.max(1), probs.argmax(1) == np.asarray(labels)
    bins = np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)
    return float(sum((bins == b).mean() * abs(right[bins == b].mean() - conf[bins == b].mean())
                     for b in range(n_bins) if (bins == b).any()))


@pytest.mark.parametrize("fit,ece,max_expected", [
    (checks.reference_fit_temperature, _ece_closed_below, 6.67),
    (checks.reference_fit_temperature, _ece_one_bin, 5.0),
    (checks.reference_fit_temperature, _ece_ten_bins_always, 6.67),
    (checks.reference_fit_temperature, _ece_unweighted, 5.0 + 5 / 3),
    (checks.reference_fit_temperature, _ece_percent, 5.0),
    (_temperature_one, checks.reference_ece, 5.0 + 5 / 3),
    (_coarse_grid, checks.reference_ece, 5.0 + 2 * 5 / 3)])
def test_calibration_wrong_answers_lose_points(fit, ece, max_expected):
    r = checks.check_calibration(fit, ece)
    assert r.score <= max_expected + 1e-9 < r.max_score, r.report()


# --------------------------------------------------------------------------------------- error analysis
@pytest.fixture(scope="module")
def err_ex():
    return solution_and_student(*NB, "error_analysis")


@pytest.mark.error_analysis
def test_error_analysis_solution_full_marks_student_zero(err_ex):
    assert_full_marks_and_blank_zero(checks.check_error_analysis, err_ex, ("most_confident_errors", "slice_accuracy"))


def _least_confident(probs, labels, k):
    probs = np.asarray(probs)
    wrong = np.flatnonzero(probs.argmax(1) != np.asarray(labels))
    return wrong[np.argsort(probs[wrong].max(1))][:k].tolist()


def _not_without_nt(texts, pred, labels):
    out = checks.reference_slice_accuracy(texts, pred, labels)
    right = np.asarray(pred) == np.asarray(labels)
    sel = np.array(["not" in t.lower().split() for t in texts])
    out["not"] = {"n": int(sel.sum()), "accuracy": float(100 * right[sel].mean()) if sel.any() else None}
    return out


def _fraction_not_percent(texts, pred, labels):
    out = checks.reference_slice_accuracy(texts, pred, labels)
    return {k: {"n": v["n"], "accuracy": None if v["accuracy"] is None else v["accuracy"] / 100} for k, v in out.items()}


def _ties_later_first(probs, labels, k):
    probs = np.asarray(probs)
    wrong = np.flatnonzero(probs.argmax(1) != np.asarray(labels))[::-1]
    return wrong[np.argsort(-probs[wrong].max(1), kind="stable")][:k].tolist()


def _slices(texts, pred, labels, words, empty=None):
    """The reference's slices with another idea of a sentence's words (and of an empty slice's accuracy)."""
    right = np.asarray(pred) == np.asarray(labels)
    groups = {"not": lambda t: any(x == "not" or x.endswith("n't") for x in words(t)), "but": lambda t: "but" in words(t),
              "1-10 words": lambda t: len(t.split()) <= 10, "11-20 words": lambda t: 10 < len(t.split()) <= 20,
              "21+ words": lambda t: len(t.split()) > 20}
    out = {}
    for name, test in groups.items():
        sel = np.array([test(t) for t in texts], dtype=bool)
        out[name] = {"n": int(sel.sum()), "accuracy": float(100 * right[sel].mean()) if sel.any() else empty}
    return out


def _not_lowercased(texts, pred, labels):
    return _slices(texts, pred, labels, lambda t: t.split())


def _substrings(texts, pred, labels):   # "nothing" holds "not", "buttery" holds "but"
    return _slices(texts, pred, labels,
                   lambda t: ["not" if "not" in w else "but" if "but" in w else w for w in t.lower().split()])


def _nan_when_empty(texts, pred, labels):
    return _slices(texts, pred, labels, lambda t: t.lower().split(), empty=float("nan"))


def _float32_accuracy(texts, pred, labels):   # right, in float32 arithmetic: full marks
    out = checks.reference_slice_accuracy(texts, pred, labels)
    return {k: {"n": v["n"], "accuracy": None if v["accuracy"] is None else float(np.float32(v["accuracy"]))}
            for k, v in out.items()}


def test_error_analysis_takes_float32_arithmetic_and_ties_in_index_order():
    r = checks.check_error_analysis(checks.reference_most_confident_errors, _float32_accuracy)
    assert r.score == 10, r.report()


def _index_order(probs, labels, k):   # the right rows, in index order instead of most confident first
    return sorted(checks.reference_most_confident_errors(probs, labels, k))


@pytest.mark.parametrize("mce,sl,max_expected", [
    (_index_order, checks.reference_slice_accuracy, 6.0),
    (_ties_later_first, checks.reference_slice_accuracy, 6.0),
    (checks.reference_most_confident_errors, _not_lowercased, 9.6),
    (checks.reference_most_confident_errors, _substrings, 9.6),
    (checks.reference_most_confident_errors, _nan_when_empty, 9.6),
    (_least_confident, checks.reference_slice_accuracy, 6.0),
    (checks.reference_most_confident_errors, _not_without_nt, 9.4),
    (checks.reference_most_confident_errors, _fraction_not_percent, 4.6)])   # an empty slice (None) is right either way
def test_error_analysis_wrong_answers_lose_points(mce, sl, max_expected):
    r = checks.check_error_analysis(mce, sl)
    assert r.score <= max_expected + 1e-9 < r.max_score, r.report()


# ----------------------------------------------------------------------------- secret-seeded hidden cases
def test_hidden_cases_change_with_the_instructor_secret(monkeypatch):
    """A hard-coded answer to the public cases fails once the instructor sets a secret."""
    from autograder.checks import secret_rng

    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    monkeypatch.setenv("AUTOGRADER_SECRET", "one")
    a = secret_rng("check_calibration").integers(10**9)
    monkeypatch.setenv("AUTOGRADER_SECRET", "two")
    assert secret_rng("check_calibration").integers(10**9) != a
    r = checks.check_calibration(checks.reference_fit_temperature, checks.reference_ece)
    assert r.score == pytest.approx(10), r.report()


# ------------------------------------------------------------------------------------ any return value
_ONE = [checks.check_paired_significance, checks.check_distillation_loss]
_TWO = [checks.check_augmentation, checks.check_ensembles, checks.check_calibration, checks.check_error_analysis]


class _ArraysEverywhere(dict):
    """A dict whose every slice holds arrays: ``==`` on them answers an array, not one truth value."""

    def get(self, key, default=None):
        return {"n": np.array([1, 2]), "accuracy": np.array([50.0, 60.0])}


@pytest.mark.parametrize("value", [None, "0.5", float("nan"), [1, 2, 3], {"a": 1}, (None, None), np.array([np.nan]),
                                   np.array(["not", "good"]), _ArraysEverywhere(), ([float("inf")], [0]),
                                   "torch-with-grad"])
def test_any_return_value_is_scored_without_raising(value):
    if isinstance(value, str) and value == "torch-with-grad":   # a tensor that still needs its gradient (fit_temperature's log T, say)
        import torch
        value = torch.tensor([0.5, 0.5], requires_grad=True) * 2
    fn = lambda *a, **k: value  # noqa: E731
    for check in _ONE:
        assert check(fn).score < 10
    for check in _TWO:
        assert check(fn, fn).score < 10


def test_an_exception_is_scored_without_raising():
    def boom(*a, **k):
        raise RuntimeError("boom")

    for check in _ONE:
        assert check(boom).score == 0
    for check in _TWO:
        assert check(boom, boom).score == 0


# ------------------------------------------------------- contract 1: plain data through the trusted grader
def _through_json(fn):
    """What the trusted grader's proxy returns: the value serialised as JSON in the jail (tuples become lists,
    arrays become lists), never the object itself."""
    import json

    def proxy(*args, **kwargs):
        out = fn(*args, **kwargs)
        return json.loads(json.dumps(out, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return proxy


def test_reference_answers_score_full_marks_after_a_json_round_trip():
    j = _through_json
    assert checks.check_paired_significance(j(lambda a, b, y: (
        100 * ((np.asarray(b) == y).mean() - (np.asarray(a) == y).mean()), checks.mcnemar_exact(a, b, y)))).score == 10
    assert checks.check_augmentation(j(checks.reference_mine_paraphrases), j(checks.reference_drop_one_word)).score == 10
    assert checks.check_ensembles(j(checks.reference_average_probabilities), j(checks.reference_stacking)).score == 10
    assert checks.check_calibration(j(checks.reference_fit_temperature), j(checks.reference_ece)).score == 10
    assert checks.check_error_analysis(j(checks.reference_most_confident_errors),
                                       j(checks.reference_slice_accuracy)).score == 10


def test_the_hidden_distillation_case_follows_the_secret(monkeypatch):
    """distillation_loss takes tensors, so no answer table can replay it; its hidden case (T, alpha, logits) is
    drawn from the instructor's secret all the same."""
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    names = []
    for secret in ("one", "two"):
        monkeypatch.setenv("AUTOGRADER_SECRET", secret)
        r = checks.check_distillation_loss(solution_and_student(*NB, "distillation_loss")[0]["distillation_loss"])
        assert r.score == 10, r.report()
        names.append([p[0] for p in r.parts if p[0].startswith("hidden case")])
    assert names[0] and names[0] != names[1]
