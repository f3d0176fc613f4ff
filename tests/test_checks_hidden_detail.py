"""Hidden cases that fail are described for the instructor (``CheckResult.details``: the inputs, what came back,
what was expected), never for the learner (``report()``), and a right answer leaves no detail. Wrong answers are
the plausible ones of the level tests; solutions come from the solution notebooks."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from autograder.checks import beyond, embeddings, finetune, orientation, reproduce, zeroshot
from notebook_cells import solution_and_student
from test_reproduce_exercises import _wald_unclipped  # the Wald interval, not clipped to [0, 100]

HIDDEN = "hidden cases (drawn from the instructor's secret)"


@functools.lru_cache(maxsize=None)
def _solution(level: str, grade_id: str) -> dict:
    return solution_and_student(level, level, grade_id)[0]


def _sol(level, grade_id, name=None):
    return _solution(level, grade_id)[name or grade_id]


# ------------------------------------------------------------------------------------- wrong answers
def _fractions(labels, num_classes):   # fractions, not percent
    return np.bincount(np.asarray(labels), minlength=num_classes)[:num_classes] / len(labels)


def _fraction_accuracy(train_labels, eval_labels):
    label = int(np.bincount(np.asarray(train_labels)).argmax())
    return label, float((np.asarray(eval_labels) == label).mean())


def _plain_ceil(points, n):   # misses the exact counts whose float product lands a hair above
    return math.ceil(points * n / 100)


def _unsorted(classify_batch, sentences, batch_size):
    rows = []
    for s in range(0, len(sentences), batch_size):
        rows.extend(classify_batch(sentences[s:s + batch_size]))
    return np.array(rows)


def _strict_abstain(probabilities, threshold):
    return [int(p.argmax()) if p.max() > threshold else "UNCERTAIN" for p in np.asarray(probabilities)]


def _fixed_temperature(scores, temperature):   # probabilities, but ignores the temperature
    z = np.asarray(scores, dtype=float) / 0.1
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _strict_curve(probabilities, labels, thresholds):   # fractions, strict >
    p, y = np.asarray(probabilities), np.asarray(labels)
    cov, acc = [], []
    for t in thresholds:
        a = p.max(1) > t
        cov.append(a.mean())
        acc.append((p.argmax(1) == y)[a].mean() if a.any() else 0.0)
    return np.array(cov), np.array(acc)


def _no_strip(name):
    return name.replace("_", " ").replace("?", " ").lower()


def _changes_with_the_labels():
    """A my_label_descriptions whose descriptions differ on the second call (the grader's, labels permuted)."""
    calls = []

    def my_label_descriptions():
        calls.append(1)
        if len(calls) == 1:
            return [["a dull, tedious mess", "I hated it"], ["a warm, funny delight", "I loved it"]]
        return [["dull", "bad"], ["warm", "good"]]
    return my_label_descriptions


def _constant_descriptions():
    return [["a dull, tedious mess", "I hated it"], ["a warm, funny delight", "I loved it"]]


def _tiny_encode(texts):   # no model: the accuracy is beside the point here
    return np.array([[len(t) % 7 + 1.0, len(t.split()) + 1.0] for t in texts])


def _plain_mean(h, m):
    return h.mean(dim=1)


def _unsorted_sample(labels, n, seed):   # per class, own RandomState, but forgets to sort
    labels, rng = np.asarray(labels), np.random.RandomState(seed)
    if n is None:
        return np.arange(len(labels))[::-1]
    return np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:n] for c in np.unique(labels)][::-1])


def _fresh_arange_each_time(labels, k, idxs, rng):
    from textclass import mteb

    return mteb.undersample(labels, k, None, rng)   # forgets the previous shuffle


def _not_stratified(labels, frac, seed):
    perm = np.random.default_rng(seed).permutation(len(labels))
    k = int(round(frac * len(labels)))
    return perm[k:], perm[:k]


def _no_zero_grad(model, batch, optimizer, scheduler):
    import torch

    loss = torch.nn.functional.cross_entropy(model(batch["input_ids"], batch["attention_mask"]), batch["labels"])
    loss.backward()
    optimizer.step()
    scheduler.step()
    return float(loss)


def _no_truncation(lengths, bs, ml, sort=False):
    return finetune.reference_count_padding(lengths, bs, 10**9, sort)


def _by_validation(runs):
    if not runs:
        raise ValueError
    return max(runs, key=lambda r: r["validation_accuracy"])


# (id, run the check with a wrong answer, with the solution, the hidden part's description or its start)
CASES = [
    ("label_balance", lambda: orientation.check_label_balance(_fractions),
     lambda: orientation.check_label_balance(_sol("orientation", "label_balance")), HIDDEN),
    ("majority_baseline", lambda: orientation.check_majority_baseline(_fraction_accuracy),
     lambda: orientation.check_majority_baseline(_sol("orientation", "majority_baseline")), "hidden cases with ties"),
    ("sentences_needed", lambda: orientation.check_sentences_needed(_plain_ceil),
     lambda: orientation.check_sentences_needed(_sol("orientation", "sentences_needed")), HIDDEN),
    ("evaluate_in_batches", lambda: reproduce.check_evaluate_in_batches(_unsorted),
     lambda: reproduce.check_evaluate_in_batches(_sol("reproduce", "evaluate_in_batches")), HIDDEN),
    ("accuracy_with_interval", lambda: reproduce.check_accuracy_with_interval(_wald_unclipped),
     lambda: reproduce.check_accuracy_with_interval(_sol("reproduce", "accuracy_with_interval")),
     "hidden cases: the Wilson interval"),
    ("abstain", lambda: reproduce.check_abstain(_strict_abstain, _sol("reproduce", "abstain", "coverage_at_accuracy")),
     lambda: reproduce.check_abstain(_sol("reproduce", "abstain"), _sol("reproduce", "abstain", "coverage_at_accuracy")),
     "hidden cases with three classes"),
    ("cosine_scores", lambda: zeroshot.check_cosine_scores(lambda s, l: s @ l.T),
     lambda: zeroshot.check_cosine_scores(_sol("zeroshot", "cosine_scores")), HIDDEN),
    ("my_label_descriptions",
     lambda: zeroshot.check_my_label_descriptions(_changes_with_the_labels(), _tiny_encode, ["a fine film ."], [1]),
     lambda: zeroshot.check_my_label_descriptions(_constant_descriptions, _tiny_encode, ["a fine film ."], [1]),
     "beats the baseline"),
    ("softmax_with_temperature",
     lambda: zeroshot.check_softmax_with_temperature(
         _fixed_temperature, _sol("zeroshot", "softmax_with_temperature", "coverage_curve")),
     lambda: zeroshot.check_softmax_with_temperature(
         _sol("zeroshot", "softmax_with_temperature"), _sol("zeroshot", "softmax_with_temperature", "coverage_curve")),
     "hidden cases: probabilities in [0, 1]"),
    ("coverage_curve",
     lambda: zeroshot.check_softmax_with_temperature(_sol("zeroshot", "softmax_with_temperature"), _strict_curve),
     None, "hidden coverage cases"),
    ("intent_description", lambda: zeroshot.check_intent_description(_no_strip),
     lambda: zeroshot.check_intent_description(_sol("zeroshot", "intent_description")), "hidden intent names"),
    ("mean_pooling", lambda: embeddings.check_mean_pooling(_plain_mean),
     lambda: embeddings.check_mean_pooling(_sol("embeddings", "mean_pooling")), HIDDEN),
    ("sample_per_class", lambda: embeddings.check_sample_per_class(_unsorted_sample),
     lambda: embeddings.check_sample_per_class(_sol("embeddings", "sample_per_class")), HIDDEN),
    ("mteb_undersample", lambda: embeddings.check_mteb_undersample(_fresh_arange_each_time),
     lambda: embeddings.check_mteb_undersample(_sol("embeddings", "mteb_undersample")), HIDDEN),
    ("stratified_split", lambda: beyond.check_stratified_split(_not_stratified),
     lambda: beyond.check_stratified_split(_sol("beyond", "stratified_split")), HIDDEN),
    ("train_step", lambda: finetune.check_train_step(_no_zero_grad),
     lambda: finetune.check_train_step(_sol("finetune", "train_step")), "gradients are cleared every step"),
    ("count_padding", lambda: finetune.check_count_padding(_no_truncation),
     lambda: finetune.check_count_padding(_sol("finetune", "count_padding")), "hidden case: "),
    ("choose_by_heldout", lambda: finetune.check_choose_by_heldout(_by_validation),
     lambda: finetune.check_choose_by_heldout(_sol("finetune", "choose_by_heldout")), "hidden case: picks the best"),
]


@pytest.mark.parametrize("wrong,right,hidden", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_failed_hidden_case_is_described_for_the_instructor_only(wrong, right, hidden):
    r = wrong()
    report = r.report()
    failed = {desc for desc, got, possible, _ in r.parts if got < possible}
    assert r.details, report
    assert any(desc.startswith(hidden) for desc, _ in r.details), (r.details, report)
    for desc, detail in r.details:
        assert desc in failed, (desc, report)          # a detail belongs to a part that failed
        assert detail and "\n" not in detail and len(detail) <= 400, detail
        assert "could not describe" not in detail, detail
        assert detail not in report, (detail, report)  # the learner's view never holds it
    if right is not None:   # (coverage_curve's solution is softmax_with_temperature's, checked together)
        r = right()
        assert r.details == [], (r.details, r.report())


def test_a_detail_says_what_came_back_and_what_was_expected():
    r = orientation.check_label_balance(_fractions)
    (desc, detail), = r.details
    assert desc == HIDDEN
    assert "labels" in detail and "returned [0." in detail and "expected [" in detail, detail
    assert "array(" not in detail and "np.float" not in detail, detail   # plain Python numbers, not numpy reprs


class _Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr for you")

    __str__ = __repr__

    def __len__(self):
        raise RuntimeError("no len either")


@pytest.mark.parametrize("odd", [lambda *a, **k: _Unprintable(), lambda *a, **k: [_Unprintable()] * 3,
                                 lambda *a, **k: (_Unprintable(), _Unprintable()), lambda *a, **k: 10**5000,
                                 lambda *a, **k: np.zeros(10**6), lambda *a, **k: float("nan"), lambda *a, **k: None],
                         ids=["repr-raises", "list-of-them", "tuple-of-them", "huge-int", "huge-array", "nan", "none"])
def test_an_unprintable_return_value_is_scored_not_raised(odd):
    for r in (orientation.check_label_balance(odd), orientation.check_majority_baseline(odd),
              orientation.check_sentences_needed(odd), zeroshot.check_intent_description(odd),
              finetune.check_count_padding(odd), finetune.check_choose_by_heldout(odd),
              reproduce.check_abstain(odd, odd)):
        assert r.score == 0 or r.score < r.max_score, r.report()
        assert r.details, r.report()
        for _, detail in r.details:
            assert len(detail) <= 400 and detail not in r.report(), detail


def test_a_hidden_case_that_raises_is_described_too():
    def raises_on_big_n(points, n):
        if n > 1000:
            raise ValueError("too big")
        return math.ceil(points * n / 100 - 1e-9)

    r = orientation.check_sentences_needed(raises_on_big_n)
    hidden = [d for d in r.details if d[0] == HIDDEN]
    assert hidden and hidden[0][1].startswith("sentences_needed("), r.details
    assert hidden[0][1] not in r.report()
