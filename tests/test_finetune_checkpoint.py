"""Level 4 saves its fine-tuned model and Level 5 loads it back: same predictions, clear error when absent,
and an interrupted save never replaces a good model with half of one."""
from __future__ import annotations

from pathlib import Path

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


def test_narrowed_feed_forward_drops_what_contributes_least_and_saves(tmp_path):
    """narrow_feed_forward keeps the neurons feed_forward_importance ranks highest: neurons whose output column is
    zero contribute nothing, rank last, and dropping exactly them leaves every prediction as it was; the narrower
    model saves and loads with its width (config.intermediate_size) and the same predictions."""
    import torch

    enc = load_encoder(MINILM, profile="offline")
    model = ft.PooledClassifier(enc.model, layers=2)
    torch.nn.init.normal_(model.head.weight)
    layers = model.encoder.encoder.layer
    width = layers[0].intermediate.dense.out_features
    rng = np.random.default_rng(0)
    silent = [sorted(rng.choice(width, size=width // 2, replace=False).tolist()) for _ in layers]
    with torch.no_grad():
        for layer, idx in zip(layers, silent):
            layer.output.dense.weight[:, idx] = 0
    before = ft.predict_proba(model, enc.tokenizer, TEXTS)
    importance = ft.feed_forward_importance(model, enc.tokenizer, TEXTS)
    assert [len(score) for score in importance] == [width] * len(layers)
    for score, idx in zip(importance, silent):
        assert float(score[idx].max()) == 0 and float(np.delete(score.numpy(), idx).min()) > 0
    kept = ft.narrow_feed_forward(model.encoder, width // 2, importance)
    assert kept == [sorted(set(range(width)) - set(idx)) for idx in silent]
    assert model.encoder.config.intermediate_size == width // 2
    assert all(layer.intermediate.dense.out_features == width // 2 == layer.output.dense.in_features
               for layer in layers)
    np.testing.assert_allclose(ft.predict_proba(model, enc.tokenizer, TEXTS), before, atol=1e-5)
    back, tokenizer, _ = ft.load_finetuned(ft.save_finetuned(model, enc.tokenizer, tmp_path / "narrow"))
    assert back.encoder.config.intermediate_size == width // 2
    np.testing.assert_allclose(ft.predict_proba(back, tokenizer, TEXTS), before, atol=1e-5)
    # dropping neurons that do contribute changes the predictions; impossible widths are refused
    ft.narrow_feed_forward(model.encoder, width // 8, ft.feed_forward_importance(model, enc.tokenizer, TEXTS))
    assert np.abs(ft.predict_proba(model, enc.tokenizer, TEXTS) - before).max() > 1e-4
    for keep in (0, width // 8 + 1):
        with pytest.raises(ValueError, match="keep must be between 1"):
            ft.narrow_feed_forward(model.encoder, keep, [torch.ones(width // 8)] * len(layers))
    with pytest.raises(ValueError, match="importance has 1 layers"):
        ft.narrow_feed_forward(model.encoder, 4, [torch.ones(width // 8)])
    with pytest.raises(ValueError, match="one score per feed-forward neuron"):
        ft.narrow_feed_forward(model.encoder, 4, [torch.ones(width)] * len(layers))


def test_missing_model_says_what_to_run(tmp_path):
    with pytest.raises(ResourceError, match="run Level 4 first"):
        ft.load_finetuned(tmp_path / "nothing-here")


def test_checkpoint_dir_is_per_profile_and_size(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCLASS_CACHE", str(tmp_path))
    assert ft.checkpoint_dir("offline", "full") == tmp_path / "finetuned" / "offline-full"
    assert ft.checkpoint_dir("offline", "small") != ft.checkpoint_dir("offline", "full")


def test_textbook_recipe_script_writes_a_record_that_rescores(tmp_path, data_dir):
    """scripts/finetune_recipe.py (the comparison the Level 4 chapter quotes) runs for real on a few rows: its
    record has every field, says it is a plumbing check, and its accuracy re-scores from its predictions."""
    import json
    import subprocess
    import sys

    from autograder.rescore import rescore

    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(repo / "scripts" / "finetune_recipe.py"), "--profile", "offline",
                           "--limit", "16", "--threads", "1", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PLUMBING CHECK, NOT A RESULT: 16 rows only" in proc.stdout
    rec = json.loads((tmp_path / "finetune-offline-small-recipe.json").read_text())
    assert rec["command"].startswith("python scripts/finetune_recipe.py --profile offline --limit 16")
    assert rec["metrics"]["train_examples"] == 16 and len(rec["predictions"]["sst2_validation_accuracy"]["predictions"]) == 872
    assert rescore(rec) == {"sst2_validation_accuracy": pytest.approx(rec["metrics"]["sst2_validation_accuracy"], abs=1e-3)}


def test_soup_script_averages_runs_and_its_record_rescores(tmp_path, data_dir):
    """scripts/finetune_soup.py on two checkpoints of the same start (MiniLM, one head moved): a soup's weights are
    the mean of its runs', every model's accuracy re-scores, the greedy soup is one of them, and runs that held out
    another slice, another max_length or another head start (probe_first) are refused with nothing written."""
    import json
    import os
    import subprocess
    import sys

    import torch

    from autograder.rescore import rescore

    repo = Path(__file__).resolve().parent.parent
    cache = tmp_path / "cache"
    info = {"encoder": MINILM, "lr": 1e-4, "phrases_seen": 0, "seed": 0, "split_seed": 0, "heldout_size": 2000,
            "heldout_by_sentence": True}
    enc = load_encoder(MINILM)
    torch.manual_seed(0)
    model = ft.PooledClassifier(enc.model)
    root = cache / "finetuned"   # the test's course cache, which the script reads through TEXTCLASS_CACHE
    ft.save_finetuned(model, enc.tokenizer, root / "offline-full-a", info=info)
    with torch.no_grad():
        model.head.weight.add_(torch.randn_like(model.head.weight))
    ft.save_finetuned(model, enc.tokenizer, root / "offline-full-b", info=info | {"lr": 5e-5})
    ft.save_finetuned(model, enc.tokenizer, root / "offline-full-c", info=info | {"split_seed": 1})
    ft.save_finetuned(model, enc.tokenizer, root / "offline-full-d", info=info | {"max_length": 128})
    ft.save_finetuned(model, enc.tokenizer, root / "offline-full-e", info=info | {"probe_first": True})
    env = os.environ | {"TEXTCLASS_CACHE": str(cache)}

    def soup(*args):
        return subprocess.run([sys.executable, str(repo / "scripts" / "finetune_soup.py"), "--profile", "offline",
                               "--threads", "1", *args], capture_output=True, text=True, timeout=600, cwd=repo, env=env)

    proc = soup("offline-full-a", "offline-full-b", "--limit", "24", "--results-dir", str(tmp_path / "rec"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PLUMBING CHECK, NOT A RESULT" in proc.stdout
    rec = json.loads((tmp_path / "rec" / "finetune-offline-small-soup.json").read_text())
    assert rec["command"].startswith("python scripts/finetune_soup.py --profile offline")
    m = rec["metrics"]
    assert {"run1_sst2_validation_accuracy", "run2_sst2_validation_accuracy", "soup12_sst2_validation_accuracy",
            "soup12_heldout_accuracy", "greedy_soup_sst2_validation_accuracy"} <= set(m)
    assert rec["details"]["greedy_soup"] in ("run1", "run2", "soup12") and rec["details"]["heldout_sentences"] == 24
    assert rec["details"]["max_length"] == 64
    assert rescore(rec) == {k: pytest.approx(m[k], abs=1e-3) for k in rec["predictions"]}
    assert "soup12_heldout_accuracy" in rec["predictions"]   # the accuracies that choose the greedy soup re-score too
    # the soup of the two is the model whose head is the mean of theirs
    from importlib import util
    spec = util.spec_from_file_location("finetune_soup", repo / "scripts" / "finetune_soup.py")
    script = util.module_from_spec(spec)
    spec.loader.exec_module(script)
    a, b = ft.load_finetuned(root / "offline-full-a")[0], ft.load_finetuned(root / "offline-full-b")[0]
    mean = script.average([a, b])
    assert torch.allclose(mean.head.weight, (a.head.weight + b.head.weight) / 2)
    assert torch.equal(a.head.weight, ft.load_finetuned(root / "offline-full-a")[0].head.weight)   # inputs untouched
    # another held-out slice: refused, nothing written
    proc = soup("offline-full-a", "offline-full-c", "--limit", "24", "--results-dir", str(tmp_path / "refused"))
    assert proc.returncode == 2 and "differ in split_seed" in proc.stderr, proc.stderr[-2000:]
    for other, what in (("d", "max_length"), ("e", "probe_first")):   # a checkpoint without them: 64 and no probe
        proc = soup("offline-full-a", f"offline-full-{other}", "--limit", "24", "--results-dir", str(tmp_path / "refused"))
        assert proc.returncode == 2 and f"differ in {what}" in proc.stderr, proc.stderr[-2000:]
    proc = soup("offline-full-a", "offline-full-a", "offline-full-b", "--results-dir", str(tmp_path / "refused"))
    assert proc.returncode == 2 and "each named once" in proc.stderr, proc.stderr[-2000:]
    proc = soup("offline-full-a", "offline-full-b", "--limit", "0", "--results-dir", str(tmp_path / "refused"))
    assert proc.returncode == 2 and "--limit 0" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "refused").exists()


def test_mpnet_student_script_writes_a_record_that_rescores(tmp_path, data_dir):
    """scripts/distil_student.py (the DistilBERT-sized student the Level 5 chapter quotes) runs for real on a few
    phrases with one MPNet layer: its record says it is a plumbing check, holds the latencies of the student and
    the DistilBERT architecture timed in the same run, both accuracies re-score from their predictions, and the
    student is saved where the course cache says."""
    import json
    import os
    import subprocess
    import sys
    import time

    from autograder.rescore import rescore

    repo = Path(__file__).resolve().parent.parent
    env = os.environ | {"TEXTCLASS_CACHE": str(tmp_path / "cache")}

    def run_script(name, *args):
        """scripts/NAME ARGS, with the test's course cache."""
        return subprocess.run([sys.executable, str(repo / "scripts" / name), *args], capture_output=True, text=True,
                              timeout=600, cwd=repo, env=env)

    def distil_student(*args):
        return run_script("distil_student.py", "--profile", "offline", "--size", "small", *args)

    proc = distil_student("--layers", "1", "--limit", "16", "--latency-sentences", "3", "--threads", "2",
                          "--budget-ms", "1000", "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PLUMBING CHECK, NOT A RESULT: student (1 MPNet layers, 16 phrases, trained in" in proc.stdout
    rec = json.loads((tmp_path / "improve-offline-small-student-mpnet1-limit16.json").read_text())
    assert rec["command"].startswith("python scripts/distil_student.py --profile offline --size small")
    m = rec["metrics"]
    assert m["train_examples"] == 16
    assert m["student_latency_ms_2threads"] > 0 and m["distilbert_int8_latency_ms_2threads"] > 0
    # timed in turns (stats.latency_ms_interleaved): three sentences, so three blocks of one, every model in each
    assert rec["details"]["latency_sentences"] == 3 and rec["details"]["latency_blocks"] == 3
    assert m["student_latency_ratio_to_distilbert"] == pytest.approx(
        m["student_latency_ms_2threads"] / m["distilbert_latency_ms_2threads"], rel=1e-3)
    copies = [f"student{copy}" for copy in ("", "_int8", "_onnx", "_onnx_int8", "_onnx_int8_per_channel",
                                             "_onnx_int8_fp32_embeddings", "_onnx_int8_per_channel_fp32_embeddings")]
    scored = [f"{name}_sst2_validation_accuracy" for name in copies + ["chosen"]]
    assert rescore(rec) == {k: pytest.approx(m[k], abs=1e-3) for k in scored}
    # the run chooses on held-out, never on validation: the best held-out copy within the budget (all, here)
    chosen = rec["details"]["chosen"]
    assert chosen in copies and rec["details"]["budget_ms"] == 1000
    assert m[f"{chosen}_heldout_accuracy"] == max(m[f"{name}_heldout_accuracy"] for name in copies)
    assert m["chosen_sst2_validation_accuracy"] == m[f"{chosen}_sst2_validation_accuracy"]
    assert m["chosen_latency_ms_2threads"] == m[f"{chosen}_latency_ms_2threads"]
    assert f"chosen on held-out within 1000 ms: {chosen}" in proc.stdout
    # a plumbing check scores held-out on the first SMALL_HELDOUT sentences of the teacher's slice
    assert rec["details"]["heldout_sentences"] == 400
    # onnxruntime runs the same network: its fp32 copy agrees with torch's on (almost) every sentence
    assert abs(m["student_onnx_sst2_validation_accuracy"] - m["student_sst2_validation_accuracy"]) <= 0.35
    for name in ("student", "distilbert"):
        assert m[f"{name}_onnx_int8_latency_ms_2threads"] > 0
    cache = tmp_path / "cache" / "finetuned"
    assert (cache / "offline-small-student-mpnet1-limit16").is_dir()
    # onnxruntime's copies have 7-bit weights, which every x86 CPU multiplies exactly (tests/test_int8_cpu.py)
    assert rec["details"]["int8_weight_bits"] == 7
    assert (cache / "offline-small-student-mpnet1-limit16-student-int8-7bit.onnx").is_file()
    assert (cache / "offline-small-student-mpnet1-limit16-student-int8-7bit-per-channel.onnx").is_file()
    assert not (cache / "offline-small-student-mpnet1-limit16-student-int8.onnx").exists()
    # the int8 copies with fp32 embedding tables quantize every matrix but the lookups: bigger files
    fp32_tables = cache / "offline-small-student-mpnet1-limit16-student-int8-7bit-fp32-embeddings.onnx"
    assert fp32_tables.stat().st_size > (cache / "offline-small-student-mpnet1-limit16-student-int8-7bit.onnx").stat().st_size

    # --student scores the saved student again without training: the copies made the same way predict the same
    second_started = time.time()
    proc = distil_student("--latency-sentences", "3", "--threads", "2", "--budget-ms", "1000",
                          "--results-dir", str(tmp_path / "again"), "--run-name", "retimed-2", "--student",
                          str(tmp_path / "improve-offline-small-student-mpnet1-limit16.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained by improve-offline-small-student-mpnet1-limit16.json" in proc.stdout
    # --run-name goes last, so a second timing of the same student keeps its own record
    again = json.loads((tmp_path / "again" / "improve-offline-small-student-mpnet1-limit16-requantized-7bit-retimed-2.json")
                       .read_text())
    assert [p.name for p in (tmp_path / "again").glob("*.json")] == [
        "improve-offline-small-student-mpnet1-limit16-requantized-7bit-retimed-2.json"]
    assert again["details"]["student_from"]["command"] == rec["command"]
    # DistilBERT's onnxruntime files (it is timed, never scored) were made once, by the first run, and reused here
    cached = {p.name: p.stat().st_mtime for p in (tmp_path / "cache" / "distilbert-random").iterdir()}
    assert len(cached) == 2 and sum(name.endswith("-int8-7bit.onnx") for name in cached) == 1, cached
    assert max(cached.values()) < second_started
    assert again["metrics"]["train_examples"] == 16 and again["details"]["history"] == rec["details"]["history"]
    for name in copies:
        key = f"{name}_sst2_validation_accuracy"
        assert again["predictions"][key]["predictions"] == rec["predictions"][key]["predictions"], name

    # --student with --ffn narrows the saved student's feed-forward blocks and trains it one more epoch, and --qat
    # then trains that narrowed student with the int8 rounding simulated (quantization-aware training): one run, two
    # checkpoints (the narrowed one, then its QAT pass), a record named after every step that says how each went
    proc = distil_student("--latency-sentences", "3", "--threads", "2", "--budget-ms", "1000",
                          "--results-dir", str(tmp_path / "qat"), "--ffn", "256", "--limit", "8", "--qat", "16",
                          "--qat-lr", "1e-3", "--student", str(tmp_path / "improve-offline-small-student-mpnet1-limit16.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "student (1 MPNet layers, feed-forward 256 of 3,072, 16 phrases, trained by" in proc.stdout
    qat_record = tmp_path / "qat" / "improve-offline-small-student-mpnet1-limit16-ffn256-limit8-qat16.json"
    assert [p.name for p in (tmp_path / "qat").glob("*.json")] == [qat_record.name]
    qat = json.loads(qat_record.read_text())
    ffn = qat["details"]["feed_forward"]
    assert (ffn["kept"], ffn["of"], ffn["after_training"]["phrases"]) == (256, 3072, 8)
    assert ffn["after_training"]["history"] and ffn["after_training"]["seconds"] > 0   # the extra epoch ran
    assert ffn["after_training"]["fp32_sst2_validation_accuracy_before"] == pytest.approx(
        m["student_sst2_validation_accuracy"], abs=1e-3)
    assert "feed-forward narrowed to 256 of 3,072" in qat["details"]["student"]
    assert rescore(qat) == {k: pytest.approx(qat["metrics"][k], abs=1e-3) for k in scored}
    start = cache / "offline-small-student-mpnet1-limit16-ffn256-limit8"   # the narrowed student, saved before --qat
    saved = json.loads((start / "encoder" / "config.json").read_text())
    assert saved["intermediate_size"] == 256 and saved["num_hidden_layers"] == 1
    info = json.loads((start / "info.json").read_text())
    assert info["feed_forward"]["kept"] == 256 and "qat" not in info   # its own info, as a --student of it reads it
    q = qat["details"]["qat"]
    assert q["phrases"] == 16 and q["weight_bits"] == 7 and q["per_channel"] and q["lr"] == 1e-3
    assert q["history"] and q["from_checkpoint"] == str(start)
    assert q["weights_kept"] in ("trained", "starting") and q["steps"] == 1 and q["seed"] == 1
    qat_dir = cache / "offline-small-student-mpnet1-limit16-ffn256-limit8-qat16"
    assert qat["details"]["checkpoint"] == str(qat_dir)
    # the QAT checkpoint is still the narrowed student, and says so for any later --student of it
    assert json.loads((qat_dir / "encoder" / "config.json").read_text())["intermediate_size"] == 256
    assert json.loads((qat_dir / "info.json").read_text())["feed_forward"]["kept"] == 256
    assert (cache / "offline-small-student-mpnet1-limit16-ffn256-limit8-qat16-student-int8-7bit-per-channel.onnx").is_file()
    # the weights kept are the better of the start and the pass through the simulation, and the simulation is what
    # onnxruntime's per-column copy with fp32 tables computes: its held-out accuracy is the one the pass saw
    kept = max(q["heldout_accuracy_simulated_before"], q["best_heldout_accuracy_simulated"])
    assert qat["metrics"]["student_onnx_int8_per_channel_fp32_embeddings_heldout_accuracy"] == pytest.approx(
        kept, abs=100 * 4 / qat["details"]["heldout_sentences"])   # within four sentences
    same = ((qat_dir / "encoder" / "model.safetensors").read_bytes()
            == (start / "encoder" / "model.safetensors").read_bytes())
    assert same == (q["weights_kept"] == "starting")    # lr 1e-3 moves the weights whenever they are kept
    # a student narrowed already is not narrowed again, and nothing is written
    proc = distil_student("--results-dir", str(tmp_path / "twice"), "--ffn", "128", "--student", str(qat_record))
    assert proc.returncode == 2 and "narrowed already" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "twice").exists()
    # --qat alone on that narrowed record loads the narrow checkpoint, and the new record still says how narrow it is
    # (read back from the checkpoint's info, not from a narrowing in this run)
    proc = distil_student("--latency-sentences", "3", "--threads", "2", "--budget-ms", "1000", "--qat", "8",
                          "--results-dir", str(tmp_path / "qat-again"), "--student", str(qat_record))
    assert proc.returncode == 0, proc.stderr[-2000:]
    again_record = tmp_path / "qat-again" / "improve-offline-small-student-mpnet1-limit16-ffn256-limit8-qat16-qat8.json"
    assert [p.name for p in (tmp_path / "qat-again").glob("*.json")] == [again_record.name]
    narrow_again = json.loads(again_record.read_text())
    assert narrow_again["details"]["feed_forward"]["kept"] == 256
    assert "feed-forward narrowed to 256 of 3,072" in narrow_again["details"]["student"]
    assert narrow_again["details"]["qat"]["from_checkpoint"] == str(qat_dir)
    assert rescore(narrow_again) == {k: pytest.approx(narrow_again["metrics"][k], abs=1e-3) for k in scored}
    assert json.loads((cache / "offline-small-student-mpnet1-limit16-ffn256-limit8-qat16-qat8" / "encoder" /
                       "config.json").read_text())["intermediate_size"] == 256
    # ... and a width the student does not have is refused, with the widths it can take
    proc = distil_student("--results-dir", str(tmp_path / "wide"), "--ffn", "3072", "--student",
                          str(tmp_path / "improve-offline-small-student-mpnet1-limit16.json"))
    assert proc.returncode == 2 and "keep between 1 and 3,071" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "wide").exists()

    # scripts/submit_student.py submits the chosen copy to improve and improve-test, graded by the autograder
    def submit_student(*args):
        return run_script("submit_student.py", *args)

    record = tmp_path / "improve-offline-small-student-mpnet1-limit16.json"
    proc = submit_student(str(record), "--out", str(tmp_path / "grades"), "--threads", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    val = json.loads((tmp_path / "grades" / "improve-student-mpnet1-limit16.json").read_text())
    test = json.loads((tmp_path / "grades" / "improve-test-student-mpnet1-limit16.json").read_text())
    assert val["stage"] == "improve" and val["n"] == 872 and test["stage"] == "improve-test" and test["n"] == 1821
    assert val["accuracy"] == pytest.approx(m["chosen_sst2_validation_accuracy"], abs=1e-3)  # the recorded model
    assert test["gold"] != val["gold"] and chosen in val["model"]
    sub = json.loads((tmp_path / "grades" / "improve-test-student-mpnet1-limit16-submission.json").read_text())
    assert sub["split"] == "test" and len(sub["predictions"]) == 1821 and sub["claimed_accuracy"] is None
    # a record whose chosen predictions are not the saved model's is refused, and nothing is written
    forged = json.loads(record.read_text())
    forged["predictions"]["chosen_sst2_validation_accuracy"]["predictions"][0] ^= 1
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    proc = submit_student(str(tmp_path / "forged.json"), "--out", str(tmp_path / "forged"))
    assert proc.returncode == 2 and "differ on 1 sentence(s)" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "forged").exists()
    # a copy no run makes is refused as unknown, not reported as a missing file
    forged = json.loads(record.read_text())
    forged["details"]["chosen"] = "student_onnx_int4"
    (tmp_path / "unknown.json").write_text(json.dumps(forged))
    proc = submit_student(str(tmp_path / "unknown.json"), "--out", str(tmp_path / "unknown"))
    assert proc.returncode == 2 and "does not know how to load" in proc.stderr, proc.stderr[-2000:]

    # submit_student.py finds the QAT copies beside the new checkpoint
    proc = submit_student(str(qat_record), "--out", str(tmp_path / "qat-grades"), "--threads", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "qat-grades" / "improve-test-student-mpnet1-limit16-ffn256-limit8-qat16.json").is_file()
    assert not (tmp_path / "unknown").exists()


def test_mpnet_student_script_without_a_teacher_says_what_to_do(tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(repo / "scripts" / "distil_student.py"), "--profile", "offline",
                           "--teacher", str(tmp_path / "missing.npz"), "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=repo)
    assert proc.returncode == 2
    assert "no teacher soft labels" in proc.stderr and "run the MPNet teacher first" in proc.stderr
    assert not list(tmp_path.glob("*.json"))


def _distil_student():
    """scripts/distil_student.py as a module (its functions and constants; main() is not run)."""
    import sys

    scripts = str(Path(__file__).resolve().parent.parent / "scripts")
    sys.path.insert(0, scripts)
    try:
        import distil_student
    finally:
        sys.path.remove(scripts)
    return distil_student


def test_mpnet_student_names_say_the_teacher_and_the_run():
    """A student taught by another teacher than the records' first (results/teacher-mpnet.npz) names it, so a
    student of a new teacher never takes an old record's or checkpoint's name; a bad --run-name is refused at once."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    script = _distil_student()
    FIRST_TEACHER, student_tag = script.FIRST_TEACHER, script.student_tag
    assert FIRST_TEACHER == "teacher-mpnet.npz" and (repo / "results" / FIRST_TEACHER).is_file()
    assert student_tag(6, 20000, 0, FIRST_TEACHER) == "student-mpnet6"          # the names records already have
    assert student_tag(6, 0, 7, FIRST_TEACHER) == "student-mpnet6-allphrases-seed7"
    assert student_tag(1, 16, 0, FIRST_TEACHER) == "student-mpnet1-limit16"
    assert student_tag(6, 20000, 1, "teacher-mpnet-30k.npz") == "student-mpnet6-from-mpnet-30k-seed1"
    assert student_tag(6, 0, 0, "/x/y/teacher-mpnet-30k.npz") == "student-mpnet6-from-mpnet-30k-allphrases"
    assert student_tag(6, 20000, 0, "mine.npz") == "student-mpnet6-from-mine"
    assert student_tag(6, 20000, 0, FIRST_TEACHER, 1536) == "student-mpnet6-ffn1536"    # a narrowed student
    assert student_tag(6, 0, 1, "teacher-mpnet-30k.npz", 1536) == "student-mpnet6-ffn1536-from-mpnet-30k-allphrases-seed1"
    # ... and one that rebuilds another run's name (seed 0 + "seed1" = seed 1's record) is refused too
    for bad in ("", "-x", "a b", "x/../y", "x--y", "x-",
                "seed1", "allphrases", "from-mpnet", "qat4000", "requantized-7bit", "ffn1536"):
        proc = subprocess.run([sys.executable, str(repo / "scripts" / "distil_student.py"), "--run-name", bad],
                              capture_output=True, text=True, timeout=120, cwd=repo)
        assert proc.returncode == 2 and "--run-name" in proc.stderr, (bad, proc.stderr[-500:])


def test_teacher_artifact_lookup_order(results_tmp, tmp_path):
    """Level 5 and scripts/distil_student.py find the teacher's soft labels the same way: a given path, else the
    newest teacher-*.npz in the results folder, then the checkout's results/ (which ships one)."""
    from textclass import results
    from textclass.config import REPO_ROOT

    shipped = sorted((REPO_ROOT / "results").glob("teacher-*.npz"))
    assert shipped, "the checkout ships the teacher's soft labels"
    assert results.teacher_artifact() == shipped[-1]          # empty results folder: the checkout's
    assert results.teacher_artifact("auto") == shipped[-1]
    results_tmp.mkdir(parents=True, exist_ok=True)
    for name in ("teacher-a.npz", "teacher-b.npz", "student.npz"):
        (results_tmp / name).write_bytes(b"")
    assert results.teacher_artifact() == results_tmp / "teacher-b.npz"  # the run's own folder first, newest name
    assert results.teacher_artifact(tmp_path / "mine.npz") == tmp_path / "mine.npz"
    # a bare name (Level 4's teacher_labels): the results folder's, else the checkout's, else as given
    assert results.teacher_artifact("teacher-a.npz") == results_tmp / "teacher-a.npz"
    assert results.teacher_artifact(shipped[0].name) == shipped[0]
    assert str(results.teacher_artifact("teacher-none.npz")) == "teacher-none.npz"


def test_onnx_copies_of_7_and_8_bits_have_their_own_files():
    """distil_student.py's 7-bit copies (the default) sit beside the 8-bit files earlier records name, so that
    scripts/submit_student.py loads the copy a record scored (details.int8_weight_bits, 8 when absent)."""
    onnx_file = _distil_student().onnx_file
    ckpt = Path("cache") / "offline-full-student"
    assert onnx_file(ckpt, "student_onnx_int8_per_channel").name == "offline-full-student-student-int8-per-channel.onnx"
    assert (onnx_file(ckpt, "student_onnx_int8_per_channel", 7).name
            == "offline-full-student-student-int8-7bit-per-channel.onnx")
    assert onnx_file(ckpt, "student_onnx", 7).name == "offline-full-student-student.onnx"  # fp32: no bits
    for bad in [("student_onnx_int4", 8), ("student_int8", 8), ("student_onnx_int8", 6)]:
        with pytest.raises(ValueError):
            onnx_file(ckpt, *bad)
