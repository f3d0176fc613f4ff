"""textclass.config.use (the context object loaders read) and textclass.seed.seed_everything."""
from __future__ import annotations

import random

import numpy as np
import pytest

from textclass import config
from textclass.seed import seed_everything


@pytest.fixture(autouse=True)
def _reset():
    config.reset()
    yield
    config.reset()


def test_loaders_read_the_context(data_dir, monkeypatch):
    from textclass.data import load_sst2

    monkeypatch.delenv("TEXTCLASS_DATA_DIR", raising=False)
    monkeypatch.delenv("TEXTCLASS_PROFILE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ctx = config.use(profile="offline", data_dir=data_dir, device="cpu")
    assert (ctx.profile, ctx.data_dir, ctx.device) == ("offline", data_dir, "cpu")
    assert config.resolve_profile(None) == "offline" and config.resolve_profile("auto") == "offline"
    assert config.resolve_profile("online") == "online"  # an explicit argument still wins
    assert config.resolve_data_dir(None) == data_dir and config.resolve_device(None) == "cpu"
    assert len(load_sst2("validation", limit=5)) == 5  # no profile= / data_dir= threaded through


def test_use_checks_the_data_dir_and_reset_forgets(tmp_path):
    with pytest.raises(config.ResourceError, match="is not a directory"):
        config.use(data_dir=tmp_path / "missing")
    config.use(profile="offline", data_dir=tmp_path)
    config.reset()
    assert (config.context.profile, config.context.data_dir, config.context.device) == (None, None, None)


def test_seed_everything_repeats_random_numpy_and_torch():
    import torch

    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    assert seed_everything(3) == 3
    first = draw()
    seed_everything(3)
    assert draw() == first
    seed_everything(4)
    assert draw() != first
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 2


def test_probe_and_pooled_classifiers_are_one_class_each():
    from textclass import finetune, probe

    assert probe.ProbeClassifier is probe.ProbeClassifier and isinstance(probe.ProbeClassifier, type)
    assert finetune.PooledClassifier is finetune.PooledClassifier and isinstance(finetune.PooledClassifier, type)
    head = probe.ProbeClassifier(torch_identity(), np.ones((1, 3)), np.zeros(1))
    assert isinstance(head, probe.ProbeClassifier)


def torch_identity():
    import torch

    return torch.nn.Identity()
