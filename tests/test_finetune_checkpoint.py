"""Level 4 saves its fine-tuned model and Level 5 loads it back: same predictions, clear error when absent,
and an interrupted save never replaces a good model with half of one."""
from __future__ import annotations

import numpy as np
import pytest

from textclass import finetune as ft
from textclass.config import ResourceError
from textclass.models import MINILM, load_encoder

TEXTS = ["a great film", "dull and boring", "it is what it is"]


def test_save_then_load_gives_the_same_predictions(tmp_path):
    import torch

    enc = load_encoder(MINILM, profile="offline")
    model = ft.PooledClassifier(enc.model, layers=2)
    torch.nn.init.normal_(model.head.weight)  # a head that is not the default initialisation
    before = ft.predict_proba(model, enc.tokenizer, TEXTS)
    saved = ft.save_finetuned(model, enc.tokenizer, tmp_path / "ft", info={"lr": 3e-5})
    back, tokenizer, info = ft.load_finetuned(saved)
    assert info["lr"] == 3e-5 and info["layers"] == 2 and info["num_labels"] == 2
    np.testing.assert_allclose(ft.predict_proba(back, tokenizer, TEXTS), before, atol=1e-6)
    assert not (tmp_path / "ft.partial").exists()


def test_missing_model_says_what_to_run(tmp_path):
    with pytest.raises(ResourceError, match="run Level 4 first"):
        ft.load_finetuned(tmp_path / "nothing-here")


def test_checkpoint_dir_is_per_profile_and_size(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCLASS_CACHE", str(tmp_path))
    assert ft.checkpoint_dir("offline", "full") == tmp_path / "finetuned" / "offline-full"
    assert ft.checkpoint_dir("offline", "small") != ft.checkpoint_dir("offline", "full")
