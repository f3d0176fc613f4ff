"""textclass.data: the offline path gives the Hub's columns and order; missing configuration fails clearly;
the online path loads the same data through the unmodified datasets code from the loopback Hub
(tests/hubserver.py), under Hub ids that huggingface_hub's own parser accepts."""
from __future__ import annotations

import json
import subprocess
import sys

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


# ------------------------------------------------------------------ online: real loads against the loopback Hub

_LOAD_ALL = """
import json, sys
from textclass import data
out = {}
for name, s in data.DATASETS.items():
    for split in s.splits:
        ds = data.load_split(name, split, profile="online")
        out[f"{name}/{split}"] = {"n": len(ds), "columns": ds.column_names, "first": ds[0],
                                  "label_sum": sum(ds["label"]),   # (banking77's label is a plain integer)
                                  "names": getattr(ds.features["label"], "names", None) or data.label_names(name)}
out["sources"] = data.SOURCES
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def online_loads(loopback_hub):
    proc = subprocess.run([sys.executable, "-c", _LOAD_ALL], env=loopback_hub.env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("JSON", 1)[1]), proc.stdout


@pytest.mark.online
def test_online_loads_match_the_data_directory(online_loads, data_dir):
    """Every dataset and split, loaded online from the Hub layout, equals the offline load row for row
    (counts from each SOURCE.md), with the Hub's ClassLabel names in label-id order (banking77, whose label is a
    plain integer on the Hub, at the revision textclass.data pins: textclass.data.label_names)."""
    loads, _ = online_loads
    for name, s in data.DATASETS.items():
        for split in s.splits:
            off = data.load_split(name, split, profile="offline", data_dir=data_dir)
            on = loads[f"{name}/{split}"]
            assert on["n"] == len(off) and on["columns"] == off.column_names, (name, split)
            assert on["first"] == off[0] and on["label_sum"] == sum(off["label"]), (name, split)
            assert on["names"] == data.label_names(name, data_dir=data_dir), (name, split)
    assert loads["sst2/validation"]["n"] == 872 and loads["sst2/validation"]["label_sum"] == 444
    assert loads["sst2/test"]["n"] == 1821 and loads["sst2/test"]["label_sum"] == -1821  # GLUE test: label -1
    assert loads["banking77/test"]["n"] == 3080 and loads["banking77/test"]["names"][11] == "card_arrival"
    assert loads["financial_phrasebank/train"]["n"] == 2264


@pytest.mark.online
def test_online_source_is_printed_and_kept(online_loads, loopback_hub):
    loads, stdout = online_loads
    want = f"hub {loopback_hub.endpoint} load_dataset('nyu-mll/glue', 'sst2', split='validation')"
    assert loads["sources"]["sst2/validation"] == want and f"data: sst2/validation from {want}" in stdout
    assert "mteb/banking77" in loads["sources"]["banking77/test"]
    assert "refs/convert/parquet" in loads["sources"]["financial_phrasebank/train"]


@pytest.mark.online
def test_hub_failure_raises_and_never_falls_back(tmp_path, data_dir):
    """A Hub that answers 'not found' (here: a loopback Hub serving nothing): a clear error, no silent fallback
    to the data directory, even though one is configured."""
    from hubserver import LoopbackHub, online_env

    code = ("from textclass import data\n"
            "try:\n    data.load_sst2('validation', profile='online')\n"
            "except data.ResourceError as e:\n    print('ERROR', e)\nelse:\n    print('LOADED')\n")
    with LoopbackHub([]) as empty:
        env = online_env(empty.endpoint, tmp_path / "hf", None) | {"TEXTCLASS_DATA_DIR": str(data_dir)}
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "ERROR" in proc.stdout and "LOADED" not in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "profile='offline'" in proc.stdout and "TEXTCLASS_DATA_DIR" in proc.stdout
    assert "nyu-mll/glue" in proc.stdout and empty.endpoint in proc.stdout


def test_gold_labels_fail_clearly_without_hub_or_data_dir(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TEXTCLASS_PROFILE", raising=False)
    monkeypatch.delenv("TEXTCLASS_DATA_DIR", raising=False)
    monkeypatch.setattr("textclass.config.default_data_dir", lambda: None)
    with pytest.raises(ResourceError, match="neither|not reachable.*TEXTCLASS_DATA_DIR"):
        data.load_gold_labels("sst2", "validation")


def test_gold_labels_offline(data_dir):
    labels = data.load_gold_labels("sst2", "validation", data_dir=data_dir, profile="offline")
    assert len(labels) == 872 and sum(labels) == 444


def test_auto_profile_probes_hf_endpoint(monkeypatch, loopback_hub):
    """profile='auto' asks the configured endpoint (HF_ENDPOINT), not huggingface.co."""
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TEXTCLASS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", loopback_hub.endpoint)
    assert resolve_profile("auto") == "online"
    from hubserver import LoopbackHub

    closed = LoopbackHub([])
    endpoint = closed.endpoint
    closed.httpd.server_close()  # the port is now closed: nothing answers there
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    assert resolve_profile("auto") == "offline"


def test_every_hub_id_parses_with_huggingface_hubs_parser():
    """Dataset and model ids in namespace/name form, accepted by huggingface_hub.parse_hf_uri (the parser
    behind hf:// paths, which rejects the bare 'glue')."""
    from huggingface_hub import parse_hf_uri
    from huggingface_hub.errors import HfUriError

    from textclass import models

    for s in data.DATASETS.values():
        rev = s.hub_kwargs.get("revision")
        uri = parse_hf_uri(f"hf://datasets/{s.hub_id}" + (f"@{rev}" if rev else ""))
        assert uri.type == "dataset" and uri.id == s.hub_id and (rev is None or uri.revision == rev)
    model_ids = {models.MINILM, models.MPNET, *models.NO_OFFLINE_WEIGHTS}
    for mid in model_ids:
        uri = parse_hf_uri(f"hf://{mid}")
        assert uri.type == "model" and uri.id == mid
    with pytest.raises(HfUriError):
        parse_hf_uri("hf://datasets/glue")
