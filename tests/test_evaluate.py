"""textclass.evaluate and textclass.probe: batching restores order, statistics are right, and the probe
classifier gives exactly the predictions of the scikit-learn model it wraps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from textclass import evaluate as ev


def test_length_sorted_batches():
    batches = ev.length_sorted_batches([5, 1, 3, 2, 4], 2)
    assert batches == [[1, 3], [2, 4], [0]]
    with pytest.raises(ValueError):
        ev.length_sorted_batches([1], 0)


def test_wilson_interval_reference_values():
    lo, hi = ev.wilson_interval(794, 872)
    # closed form computed independently
    z, n, p = 1.959964, 872, 794 / 872
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (lo, hi) == pytest.approx((c - h, c + h)) and 0.885 < lo < p < hi < 0.93
    assert ev.wilson_interval(20, 20)[1] == pytest.approx(1.0) and ev.wilson_interval(0, 20)[0] == 0.0


def test_confusion_and_coverage():
    cm = ev.confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], 2)
    assert cm.tolist() == [[1, 1], [0, 2]]
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    cov, acc = ev.coverage_accuracy(probs, [0, 1, 1], [0.5, 0.7, 0.95])
    assert cov.tolist() == pytest.approx([1, 2 / 3, 0]) and acc[0] == pytest.approx(2 / 3) and acc[1] == 1
    assert math.isnan(acc[2])


class _CharTokenizer:
    """A stand-in tokenizer: one token per character; pads with 0."""

    def tokenize(self, text):
        return list(text)

    def __call__(self, texts, padding=True, truncation=True, max_length=128, return_tensors="pt"):
        texts = [texts] if isinstance(texts, str) else texts
        width = max(1, max(len(t) for t in texts))
        ids = torch.tensor([[ord(c) for c in t] + [0] * (width - len(t)) for t in texts])
        enc = {"input_ids": ids, "attention_mask": (ids > 0).long()}
        return type("Enc", (dict,), {"to": lambda self, d: self})(enc)


class _LengthModel(torch.nn.Module):
    """Logits from the number of real tokens: odd length -> class 1."""

    def __init__(self):
        super().__init__()
        self.batches = []
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask):
        self.batches.append(attention_mask.sum(1).tolist())
        odd = (attention_mask.sum(1) % 2).float()
        return torch.stack([1 - odd, odd], dim=1) * 5


def test_predict_proba_batches_sorted_and_restores_order():
    texts = ["abc", "a", "abcdefg", "ab", "abcd", "abcde"]
    model = _LengthModel()
    probs = ev.predict_proba(model, _CharTokenizer(), texts, batch_size=4, device="cpu", progress=False)
    assert probs.argmax(1).tolist() == [len(t) % 2 for t in texts]
    assert model.batches == [[1, 2, 3, 4], [5, 7]]
    loop = ev.per_sentence_proba(model, _CharTokenizer(), texts, device="cpu", progress=False)
    assert np.allclose(loop, probs)


def test_evaluate_reports_accuracy_and_refuses_unlabelled_splits():
    texts = ["abc", "a", "ab", "abcd"]
    res = ev.evaluate(_LengthModel(), _CharTokenizer(), {"sentence": texts, "label": [1, 1, 1, 1]},
                      device="cpu", progress=False)
    assert res.correct == 2 and res.accuracy == 50.0 and res.confusion.tolist() == [[0, 0], [2, 2]]
    assert "accuracy 50.00% (2/4)" in res.summary()
    with pytest.raises(ValueError, match="no public labels"):
        ev.evaluate(_LengthModel(), _CharTokenizer(), {"sentence": texts, "label": [-1] * 4}, device="cpu")


def test_mean_pooling_matches_sentence_transformers_and_probe_matches_sklearn(data_dir):
    from sentence_transformers import SentenceTransformer

    from textclass import data, models, probe

    enc = models.load_encoder(models.MINILM, profile="offline")
    texts = data.load_sst2("validation", profile="offline", data_dir=data_dir, limit=40)["sentence"]
    mine = probe.encode(enc, texts, batch_size=16, progress=False, cache=False)
    st = SentenceTransformer(models.resolve_model(models.MINILM, "offline"), device="cpu").encode(texts)
    assert np.allclose(mine, st, atol=1e-5)

    train = data.load_sst2("train", profile="offline", data_dir=data_dir, limit=300)
    clf, sk = probe.fit_probe(enc, train["sentence"], train["label"], progress=False)
    probs = ev.predict_proba(clf, enc.tokenizer, texts, batch_size=16, device="cpu", progress=False)
    assert np.allclose(probs, sk.predict_proba(mine), atol=1e-4)


def test_is_cached_says_whether_encode_will_read_the_cache(tmp_path, monkeypatch):
    """Level 3 prints "read from the embedding cache" from this, not from how fast the call was."""
    from textclass import models, probe

    monkeypatch.setenv("TEXTCLASS_CACHE", str(tmp_path))
    enc = models.load_encoder(models.MINILM, profile="offline")
    texts = ["a fresh sentence for the cache test", "and another one"]
    assert not probe.is_cached(enc, texts)
    first = probe.encode(enc, texts, progress=False)
    assert probe.is_cached(enc, texts) and not probe.is_cached(enc, texts[:1])
    assert np.array_equal(probe.encode(enc, texts, progress=False), first)
