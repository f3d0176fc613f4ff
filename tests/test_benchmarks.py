"""tools/benchmark.py: a smoke run with tiny sizes into tmp_path (no timed assertions), and the committed
benchmark page is the one generated from benchmarks/results.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tools.book import benchmarks_page

REPO = Path(__file__).resolve().parent.parent


def _run(tmp_path, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TEXTCLASS_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "tools.benchmark", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_smoke_run_with_tiny_sizes(tmp_path, data_dir):
    results = tmp_path / "results"
    results.mkdir()
    (results / "lvl-offline-small.json").write_text(json.dumps(
        {"notebook": "lvl", "profile": "offline-small", "metrics": {}, "seconds": 42.0, "machine": "m"}))
    out, page = tmp_path / "b.json", tmp_path / "b.md"
    proc = _run(tmp_path, "--n", "12", "--train", "40", "--latency-sentences", "2", "--warmup", "1",
                "--threads", "1", "--models", "minilm,onnx-int8,onnx-l3", "--results-dir", str(results),
                "--out", str(out), "--page", str(page), "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    for key in ("command", "commit", "machine", "date"):
        assert res[key]
    assert res["command"].startswith("python -m tools benchmark --n 12")
    ev = res["evaluator"]
    assert ev["n"] == 12 and ev["batched_seconds"] > 0 and ev["per_sentence_seconds"] > 0
    assert ev["same_predictions"] == 12  # same model, same sentences: batching must not change predictions
    lat = res["latency"]
    assert [m["model"] for m in lat["models"]] == [
        "sentence-transformers/all-MiniLM-L6-v2", "onnx/all-MiniLM-L6-v2-int8", "onnx/paraphrase-MiniLM-L3-v2"]
    assert all(set(m["ms"]) == {"1"} and m["ms"]["1"] > 0 for m in lat["models"]) and not lat["skipped"]
    assert res["notebooks"] == [{"notebook": "lvl", "profile": "offline-small", "seconds": 42.0, "machine": "m",
                                 "record": "results/lvl-offline-small.json"}]
    text = page.read_text()
    assert text == benchmarks_page(out)
    assert "Speed-up" in text and "onnx/paraphrase-MiniLM-L3-v2" in text and "| lvl | offline-small | 42 |" in text


def test_unknown_model_is_refused(tmp_path):
    proc = _run(tmp_path, "--models", "gpt", "--out", str(tmp_path / "x.json"))
    assert proc.returncode == 2 and "unknown models ['gpt']" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_committed_benchmark_page_is_generated_from_the_committed_results():
    results = REPO / "benchmarks" / "results.json"
    assert results.exists(), "run `python -m tools.benchmark` and commit benchmarks/results.json"
    assert (REPO / "book" / "benchmarks.md").read_text() == benchmarks_page(results, REPO / "results"), \
        "book/benchmarks.md is stale: run `python -m tools book --generate` (or `python -m tools publish`)"
    page = (REPO / "book" / "benchmarks.md").read_text()
    for record in (REPO / "results").glob("*.json"):  # every notebook's wall time, from the current records
        assert f"`results/{record.name}`" in page, record.name
    res = json.loads(results.read_text())
    assert res["evaluator"]["n"] == 872 and res["evaluator"]["same_predictions"] == 872
    assert {m["model"] for m in res["latency"]["models"]} == {
        "sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-mpnet-base-v2",
        "onnx/all-MiniLM-L6-v2-int8", "onnx/paraphrase-MiniLM-L3-v2"}
    assert all(set(m["ms"]) == {"1", "2"} for m in res["latency"]["models"])
