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


def test_online_profile_model_source_names_the_endpoint(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert models._source(models.MINILM, models.MINILM) == "hub http://127.0.0.1:9"


def test_a_standin_loaded_from_a_folder_says_so(tmp_path, capsys):
    """A stand-in saved and loaded back (as the loopback Hub serves them) is still marked as one."""
    standin = models.load_classifier(models.DISTILBERT_SST2, profile="offline", allow_standin=True)
    standin.model.save_pretrained(tmp_path / "m")
    standin.tokenizer.save_pretrained(tmp_path / "m")
    capsys.readouterr()
    again = models.load_classifier(str(tmp_path / "m"), profile="offline")
    assert again.is_standin and models.is_standin_model(again.model)
    assert "PLUMBING CHECK, NOT A RESULT" in capsys.readouterr().out
    assert not models.is_standin_model(models.load_encoder(models.MINILM, profile="offline").model)


def test_mixed_precision_uses_real_bf16_only(monkeypatch):
    """T4-class GPUs report bf16 through emulation: they must get fp16 (+ GradScaler), not emulated bf16."""
    import torch

    from textclass import finetune

    assert finetune.mixed_precision("cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert finetune.mixed_precision("cuda") == "fp16"  # emulated only
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert finetune.mixed_precision("cuda:0") == "bf16"


def test_onnx_outputs_land_on_the_device_of_the_mask():
    """probe.encode multiplies the ONNX output by the attention mask: both must be on one device."""
    import torch

    from textclass import onnx, probe

    enc = onnx.load_onnx_encoder(models.MINILM_L3_ONNX)
    batch = enc.tokenizer(["a fine film", "dull"], padding=True, return_tensors="pt")
    out = enc.model.to("cpu")(**batch).last_hidden_state
    assert out.device == batch["attention_mask"].device
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    embs = [probe.encode(enc, ["a fine film", "dull"], device=d, progress=False, cache=False) for d in devices]
    assert embs[0].shape == (2, enc.model.config.hidden_size)
    for e in embs[1:]:
        np = __import__("numpy")
        assert np.allclose(e, embs[0], atol=1e-5)
