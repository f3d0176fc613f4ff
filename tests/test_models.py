"""textclass.models: real offline weights resolve; missing ones fail clearly; stand-ins announce themselves."""
from __future__ import annotations

import pytest

from textclass import models
from textclass.config import ResourceError


def test_minilm_resolves_to_the_packaged_weights():
    path = models.offline_path("all-MiniLM-L6-v2")
    assert (path / "model.safetensors").exists() and (path / "vocab.txt").exists()
    assert models.resolve_model(models.MINILM, "offline") == str(path)


def test_mpnet_is_unpacked_once_from_the_five_slices():
    path = models.offline_path(models.MPNET)
    assert (path / ".complete").exists()
    assert (path / "model.safetensors").stat().st_size == 437_971_872  # size listed in the zip
    assert models.offline_path(models.MPNET) == path  # second call: no work


def test_onnx_models_resolve():
    assert models.offline_path(models.MINILM_INT8_ONNX).suffix == ".onnx"
    assert models.offline_path(models.MINILM_L3_ONNX).name == "paraphrase-MiniLM-L3-v2.onnx"


def test_online_profile_keeps_the_hub_name():
    assert models.resolve_model("distilbert-base-uncased-finetuned-sst-2-english", "online") == models.DISTILBERT_SST2


def test_model_without_offline_weights_fails_with_advice():
    with pytest.raises(ResourceError, match="allow_standin=True"):
        models.load_classifier(models.DISTILBERT_SST2, profile="offline")
    with pytest.raises(ResourceError, match="profile='online'"):
        models.offline_path("someone/unknown-model")


def test_standin_is_tiny_random_and_says_so(capsys):
    loaded = models.load_classifier(models.DISTILBERT_SST2, profile="offline", allow_standin=True)
    assert loaded.is_standin and "PLUMBING CHECK, NOT A RESULT" in capsys.readouterr().out
    assert "NOT A RESULT" in loaded.describe()
    assert type(loaded.model).__name__ == "DistilBertForSequenceClassification"
    assert sum(p.numel() for p in loaded.model.parameters()) < 2_000_000


def test_real_encoder_is_not_a_standin():
    enc = models.load_encoder(models.MINILM, profile="offline")
    assert not enc.is_standin and "real weights" in enc.describe() and enc.model.config.hidden_size == 384
