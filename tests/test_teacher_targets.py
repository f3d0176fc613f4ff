"""Level 4's optional teacher targets (teacher_labels / teacher_weight): each training target mixes the phrase's
label with a fine-tuned teacher's probabilities, read from the artifact Level 4 itself writes (soft_labels_out).
The learner's train_step, the plain loop and Trainer all take those probability rows; the held-out slice must be
the teacher's; bad parameters stop with what to do."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from autograder.checks import finetune as checks
from notebook_cells import REPO, cell_source
from textclass import finetune as ft


def _artifact(path, rows, probs, heldout_rows):
    provenance = {"model": "a teacher fine-tuned on SST-2 train", "sst2_validation_accuracy": 92.5,
                  "heldout_size": len(heldout_rows), "heldout_by_sentence": True, "split_seed": 3,
                  "heldout_rows": list(heldout_rows)}
    np.savez_compressed(path, rows=np.array(rows), probs=np.array(probs, dtype=np.float16),
                        provenance=json.dumps(provenance))
    return path


def test_targets_mix_label_and_teacher_row_by_row(tmp_path):
    path = _artifact(tmp_path / "teacher-t.npz", rows=[0, 1, 2, 4, 10, 11],
                     probs=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.5, 0.5]],
                     heldout_rows=[10, 11])
    train_rows, labels = np.array([4, 0, 3, 2]), np.array([1, 1, 0, 0])   # row 3: the teacher did not label it
    targets, info = ft.teacher_targets(path, labels, train_rows, [11, 10], weight=0.5)
    assert targets.dtype == np.float32 and targets.shape == (4, 2)
    np.testing.assert_allclose(targets, [[0.15, 0.85], [0.45, 0.55], [1.0, 0.0], [0.8, 0.2]], atol=2e-3)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-6)
    assert info["rows_labelled"] == 3 and info["rows"] == 4 and info["weight"] == 0.5
    assert info["teacher_validation_accuracy"] == 92.5 and info["artifact"] == "teacher-t.npz"
    alone, _ = ft.teacher_targets(path, labels, train_rows, [10, 11], weight=1.0)
    np.testing.assert_allclose(alone, [[0.3, 0.7], [0.9, 0.1], [1.0, 0.0], [0.6, 0.4]], atol=2e-3)


def test_one_reader_serves_level_4_level_5_and_the_script(tmp_path):
    """ft.load_teacher_labels, which Level 4's teacher targets, Level 5's teacher cell and scripts/distil_student.py
    all read through: the rows and probabilities as written, the provenance, validation/test probabilities when the
    artifact has them, and whether a held-out slice is the teacher's."""
    path = _artifact(tmp_path / "teacher-t.npz", rows=[7, 2, 10], probs=[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]],
                     heldout_rows=[10])
    labelled = ft.load_teacher_labels(path)
    assert sorted(labelled.by_row) == [2, 7, 10] and labelled.by_row[2].dtype == np.float32
    np.testing.assert_allclose(labelled.by_row[7], [0.9, 0.1], atol=1e-3)
    assert labelled.provenance["split_seed"] == 3 and labelled.path == path
    assert labelled.validation_probs is None and labelled.test_probs is None
    assert labelled.holds_out([10]) and labelled.holds_out(np.array([10])) and not labelled.holds_out([10, 2])
    # rows the teacher never labelled keep their one-hot label, even when it labelled none of them
    targets, info = ft.teacher_targets(path, [1, 0], [3, 4], [10])
    np.testing.assert_array_equal(targets, [[0.0, 1.0], [1.0, 0.0]])
    assert info["rows_labelled"] == 0
    # the artifact the checkout ships, against np.load itself
    shipped = REPO / "results" / "teacher-mpnet.npz"
    labelled, saved = ft.load_teacher_labels(shipped), np.load(shipped)
    assert len(labelled.by_row) == len(saved["rows"])
    for k in np.random.default_rng(0).choice(len(saved["rows"]), 100, replace=False):
        np.testing.assert_array_equal(labelled.by_row[int(saved["rows"][k])], saved["probs"][k].astype(np.float32))
    np.testing.assert_array_equal(labelled.validation_probs, saved["validation_probs"])
    assert len(labelled.validation_probs) == 872 and labelled.test_probs.shape == saved["test_probs"].shape
    assert labelled.holds_out(json.loads(str(saved["provenance"]))["heldout_rows"])
    with pytest.raises(FileNotFoundError, match="no teacher soft labels at .*teacher-none.npz.*soft_labels_out"):
        ft.load_teacher_labels(tmp_path / "teacher-none.npz")
    with pytest.raises(ValueError, match="holds no labelled rows"):
        ft.load_teacher_labels(_artifact(tmp_path / "teacher-empty.npz", rows=np.zeros(0, dtype=int),
                                         probs=np.zeros((0, 2)), heldout_rows=[]))


def test_bad_teacher_parameters_say_what_to_do(tmp_path):
    path = _artifact(tmp_path / "teacher-t.npz", rows=[0, 1, 10], probs=[[0.9, 0.1]] * 3, heldout_rows=[10])
    for weight in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="teacher_weight.*teacher_labels = None"):
            ft.teacher_targets(path, [0], [0], [10], weight=weight)
    with pytest.raises(ValueError, match="heldout_size = 1, heldout_by_sentence = True and split_seed = 3"):
        ft.teacher_targets(path, [0], [0], [1], weight=0.5)      # another slice: the teacher trained on row 1
    with pytest.raises(FileNotFoundError, match="soft_labels_out"):
        ft.teacher_targets(tmp_path / "teacher-none.npz", [0], [0], [10])


def test_cross_entropy_step_trains_on_the_probabilities_not_on_a_label():
    """The learner's step (the reference solution's cross-entropy) with rows of probabilities as targets: against
    (0.5, 0.5) no prediction can bring the loss below ln 2 (the targets' entropy), whereas with class labels the
    same loop drives it far below: the probabilities, not a label hidden in them, are what the loop trains on."""
    from textclass.models import MINILM, load_encoder

    enc = load_encoder(MINILM, profile="offline")
    texts = [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(32)]

    def run(targets):
        model = ft.PooledClassifier(load_encoder(MINILM, profile="offline").model, layers=1)
        return ft.train_loop(model, enc.tokenizer, texts, targets, step=checks.reference_train_step, lr=3e-3,
                             batch_size=8, epochs=4, progress=False)["losses"]

    soft = run(np.full((32, 2), 0.5, dtype=np.float32))
    hard = run(np.arange(32) % 2)
    assert min(soft) >= math.log(2) - 1e-4 and np.isfinite(soft).all()
    assert min(hard) < 0.5 * math.log(2)


def test_trainer_dataset_takes_probability_rows():
    """Trainer sees the same targets as the loop: tokenized_dataset keeps a row of probabilities as a row, the
    collator pads it into a float batch, and the model's own loss takes it."""
    import torch
    import transformers as tf

    from textclass.models import MINILM, load_encoder

    enc = load_encoder(MINILM, profile="offline")
    ds = ft.tokenized_dataset(["a great film", "dull"], np.array([[0.2, 0.8], [0.9, 0.1]], dtype=np.float32),
                              enc.tokenizer)
    batch = tf.DataCollatorWithPadding(enc.tokenizer)([ds[0], ds[1]])
    assert batch["labels"].dtype == torch.float32 and tuple(batch["labels"].shape) == (2, 2)
    np.testing.assert_allclose(batch["labels"].numpy(), [[0.2, 0.8], [0.9, 0.1]], atol=1e-6)
    assert ft.tokenized_dataset(["a"], np.array([1]), enc.tokenizer)[0]["labels"] == 1
    model = ft.PooledClassifier(enc.model, layers=1)
    out = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    assert torch.isfinite(out["loss"])


def test_notebook_cell_aligns_the_shipped_teacher_with_the_permuted_train_rows(data_dir):
    """Level 4's own cell, on the real split and the teacher the checkout ships: each target row is the mix for the
    train row at the same position of the (seeded, permuted) training order, and the held-out slice is the
    teacher's; without teacher_labels the targets are the labels themselves."""
    from textclass import data, results

    saved = np.load(REPO / "results" / "teacher-mpnet.npz")
    provenance = json.loads(str(saved["provenance"]))
    probs = dict(zip(saved["rows"].tolist(), saved["probs"].astype(np.float32)))
    train = data.load_sst2("train", profile="offline", data_dir=data_dir)
    all_texts, all_labels = list(train["sentence"]), np.array(train["label"])
    train_idx, held_idx, _ = ft.train_heldout_rows(all_texts, provenance["heldout_size"], seed=0, by_sentence=True,
                                                   evaluation=ft.evaluation_sentences("offline", data_dir))
    train_idx = np.random.default_rng(0).permutation(train_idx)
    train_labels = all_labels[train_idx]
    source = cell_source(REPO / "solutions" / "finetune" / "finetune.ipynb", "teacher_targets")
    for teacher_labels in (None, "teacher-mpnet.npz"):
        ns = {"ft": ft, "results": results, "np": np, "train_labels": train_labels, "train_idx": train_idx,
              "held_idx": held_idx, "teacher_labels": teacher_labels, "teacher_weight": 0.25}
        exec(compile(source, "finetune.ipynb:teacher_targets", "exec"), ns)
        if teacher_labels is None:
            assert ns["train_targets"] is train_labels and ns["teacher_info"] is None
            continue
        targets = ns["train_targets"]
        assert targets.shape == (len(train_idx), 2) and ns["teacher_info"]["rows_labelled"] == len(train_idx)
        for k in np.random.default_rng(1).choice(len(train_idx), 50, replace=False):
            row = train_idx[k]
            want = 0.75 * np.eye(2)[all_labels[row]] + 0.25 * probs[row] / probs[row].sum()
            np.testing.assert_allclose(targets[k], want, atol=1e-5)
