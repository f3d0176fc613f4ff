"""textclass.data: the offline path gives the Hub's columns and order; missing configuration fails clearly."""
from __future__ import annotations

import datasets
import pytest

from textclass import data
from textclass.config import ResourceError, resolve_profile


def test_sst2_offline_matches_the_hub_schema(data_dir):
    val = data.load_sst2("validation", profile="offline", data_dir=data_dir)
    assert val.column_names == ["sentence", "label", "idx"]
    assert len(val) == 872 and sum(val["label"]) == 444  # SOURCE.md: 444 positive / 428 negative
    assert val[0] == {"sentence": "it 's a charming and often affecting journey . ", "label": 1, "idx": 0}
    assert val["idx"] == list(range(872))
    train = data.load_sst2("train", profile="offline", data_dir=data_dir)
    assert len(train) == 67349 and train[0]["sentence"] == "hide new secretions from the parental units "
    test = data.load_sst2("test", profile="offline", data_dir=data_dir)
    assert len(test) == 1821 and set(test["label"]) == {-1} and test["idx"] == list(range(1821))


def test_limit_keeps_the_first_rows(data_dir):
    val = data.load_sst2("validation", profile="offline", data_dir=data_dir, limit=5)
    assert len(val) == 5 and val["idx"] == [0, 1, 2, 3, 4]


def test_env_variable_is_used(data_dir, monkeypatch):
    monkeypatch.setenv("TEXTCLASS_DATA_DIR", str(data_dir))
    assert len(data.load_sst2("validation", profile="offline")) == 872


@pytest.mark.parametrize("name,split,n", [("banking77", "test", 3080), ("rotten_tomatoes", "validation", 1066),
                                          ("tweet_eval_sentiment", "test", 12284), ("ag_news", "test", 7600),
                                          ("financial_phrasebank", "train", 2264)])
def test_other_datasets(data_dir, name, split, n):
    ds = data.load_split(name, split, profile="offline", data_dir=data_dir)
    assert len(ds) == n and "label" in ds.column_names and "idx" in ds.column_names


def test_banking77_label_names_follow_the_hub_order(data_dir):
    names = data.label_names("banking77", data_dir=data_dir)
    assert len(names) == 77 and names[0] == "activate_my_card" and names[11] == "card_arrival"


def test_offline_without_data_dir_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("TEXTCLASS_DATA_DIR", raising=False)
    monkeypatch.setattr("textclass.config.default_data_dir", lambda: None)
    with pytest.raises(ResourceError, match="TEXTCLASS_DATA_DIR"):
        data.load_sst2("validation", profile="offline")


def test_hub_failure_without_data_dir_says_what_to_set(monkeypatch):
    def no_hub(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    monkeypatch.setattr("textclass.config.default_data_dir", lambda: None)
    monkeypatch.delenv("TEXTCLASS_DATA_DIR", raising=False)
    with pytest.raises(ResourceError, match="TEXTCLASS_DATA_DIR.*data_dir"):
        data.load_sst2("validation", profile="online")


def test_hub_failure_falls_back_to_the_data_dir(monkeypatch, data_dir):
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("x")))
    assert len(data.load_sst2("validation", profile="online", data_dir=data_dir)) == 872


def test_online_uses_the_hub_path(monkeypatch):
    seen = {}

    def fake_hub(*args, split):
        seen["args"] = args
        return datasets.Dataset.from_dict({"sentence": ["x"], "label": [1], "idx": [0]})

    monkeypatch.setattr(datasets, "load_dataset", fake_hub)
    assert len(data.load_sst2("validation", profile="online")) == 1 and seen["args"] == ("glue", "sst2")


def test_bad_inputs_are_explained(data_dir, tmp_path):
    with pytest.raises(ResourceError, match="unknown dataset"):
        data.load_split("imdb", "test", profile="offline")
    with pytest.raises(ResourceError, match="no split"):
        data.load_split("ag_news", "train", profile="offline", data_dir=data_dir)
    with pytest.raises(ResourceError, match="not a directory"):
        data.load_sst2("validation", profile="offline", data_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="profile"):
        resolve_profile("cloud")


def test_auto_profile_is_offline_when_hub_offline_is_set(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TEXTCLASS_PROFILE", raising=False)
    assert resolve_profile("auto") == "offline"


def test_answer_key(data_dir):
    key = data.load_answer_key(data_dir / "sst2" / "test_labels_derived.tsv")
    assert len(key) == 1821 and sorted(key) == list(range(1821)) and sum(key.values()) == 909
