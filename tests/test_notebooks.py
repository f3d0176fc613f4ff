"""Every level's solution notebook executes offline with papermill (the CI profile), earns full marks in
its own graded cells, records its numbers, and re-executes identically under nbval."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder.rescore import rescore
from tools.curriculum import execute, levels

LEVELS = levels()


def _errors(nb):
    return [(c.metadata.get("nbgrader", {}).get("grade_id"), o.get("ename"), o.get("evalue"))
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.fixture(scope="module", params=LEVELS, ids=[lv.id for lv in LEVELS])
def executed(request, tmp_path_factory, data_dir):
    """Execute one level's solution notebook offline in the small (CI) profile, once per test module."""
    level = request.param
    tmp = tmp_path_factory.mktemp(level.id)
    results_dir = tmp / "results"
    old = os.environ.get("TEXTCLASS_RESULTS_DIR")
    os.environ["TEXTCLASS_RESULTS_DIR"] = str(results_dir)
    try:
        out = tmp / f"{level.notebook}.ipynb"
        params = execute(level, out, size="small", profile="offline", cwd=tmp)
    finally:
        if old is None:
            os.environ.pop("TEXTCLASS_RESULTS_DIR")
        else:
            os.environ["TEXTCLASS_RESULTS_DIR"] = old
    return level, out, params, results_dir


@pytest.mark.notebook
def test_solution_notebook_executes_offline(executed):
    level, out, params, results_dir = executed
    nb = nbformat.read(out, as_version=4)
    assert not _errors(nb)
    warned = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"
              and ("FutureWarning" in o.text or "without encryption" in o.text)]
    assert not warned, f"warning boxes in the executed page (filter them at the source): {warned}"
    bars = [c.get("id") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "Loading weights" in json.dumps(o)]
    assert not bars, f"transformers' weight-loading bars on the executed page (cells {bars})"

    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    for cell in graded:  # the solution earns every point in its own autograded cells (nbgrader partial credit)
        meta = cell.metadata["nbgrader"]
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert results, f"{meta['grade_id']}: the autograded cell must end with its numeric score"
        assert float(results[-1]["data"]["text/plain"]) == float(meta["points"]), meta["grade_id"]
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], \
            f"{meta['grade_id']}: stderr output in a graded cell makes nbgrader give 0"

    records = list(results_dir.glob("*.json"))
    assert records, "the notebook must record its numbers with textclass.results.record"
    for path in records:
        rec = json.loads(path.read_text())
        assert rec["profile"] == f"offline-{params['size']}"
        for metric, value in rescore(rec).items():
            assert rec["metrics"][metric] == pytest.approx(value, abs=1e-3)
        if level.id == "improve":   # every model timed in turns on the same sentences (stats.latency_ms_interleaved)
            details = rec["details"]
            assert details["latency_sentences"] >= 1 and details["latency_blocks"] == min(10, details["latency_sentences"])
            # the small profile narrows its student (student_ffn): the record says so and the student was trained narrow
            assert details["student_ffn"] == params["student_ffn"] > 0
            narrowed = [o["text"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                        if o.output_type == "stream" and "feed-forward blocks narrowed to" in o["text"]]
            assert narrowed and f"narrowed to {params['student_ffn']:,} of 3,072" in narrowed[0]
            assert any(f"ffn_{params['student_ffn']}_distilled" in metric for metric in rec["metrics"])
            # ... after a full-width stage (student_narrow = "after"): reported, recorded, re-scored above
            assert details["student_narrow"] == params["student_narrow"] == "after"
            printed = "".join(o["text"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                              if o.output_type == "stream")
            assert "full-width stage:" in printed
            assert printed.index("full-width stage:") < printed.index("feed-forward blocks narrowed to")
            assert details["student_full_width_stage"]["steps"] > 0
            assert "student_full_width_stage_sst2_validation_accuracy" in rec["metrics"]
            # ... and the full-width stage stays a candidate: its onnxruntime copy is scored, timed and re-scored
            wide = [m for m in rec["metrics"] if "_full_width_distilled_int8_onnx_" in m]
            assert {m.rsplit("_full_width_distilled_int8_onnx_", 1)[1] for m in wide} >= {
                "sst2_validation_accuracy", "latency_ms_1thread", "latency_ms_2threads", "temperature"}, wide
            assert any("full width, distilled, int8 ONNX" in row[0] for row in details["table"])


@pytest.mark.notebook
def test_executed_notebook_revalidates_under_nbval(executed):
    """nbval re-executes the executed notebook and compares the cells tagged nbval-check-output."""
    level, out, params, results_dir = executed
    if not level.nbval:
        pytest.skip(f"{level.id}: nbval re-execution is off in curriculum.yml (it would retrain the model)")
    env = dict(os.environ, PYTHONWARNINGS="ignore", TEXTCLASS_RESULTS_DIR=str(results_dir))
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(out.parent), out.name],
                          cwd=out.parent, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.notebook
def test_reproduce_online_branch_runs_with_a_local_checkpoint(tmp_path, monkeypatch, online_environ):
    """The online branch (the reference script's pipeline loop) with a local directory holding a tiny random
    DistilBERT as `model`; the dataset comes from the loopback Hub (the online profile never falls back to
    local files). This exercises the code path only: the number is meaningless and not recorded."""
    from tools.curriculum import get_level
    from textclass.models import DISTILBERT_SST2, load_classifier

    standin = load_classifier(DISTILBERT_SST2, profile="offline", allow_standin=True,
                              id2label={0: "NEGATIVE", 1: "POSITIVE"})
    ckpt = tmp_path / "tiny-random-distilbert"
    standin.model.save_pretrained(ckpt)
    standin.tokenizer.save_pretrained(ckpt)
    monkeypatch.setenv("TEXTCLASS_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "online.ipynb"
    execute(get_level("reproduce"), out, size="small", profile="online", cwd=tmp_path,
            extra={"model": str(ckpt), "limit": 40})
    nb = nbformat.read(out, as_version=4)
    assert not _errors(nb)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "ONLINE PROFILE" in text and "speed-up" in text
    assert json.loads((tmp_path / "submission.json").read_text())["profile"] == "online"
