"""No evaluation sentence in any training or augmentation pool (issue 11).

Levels 4 and 5 train on SST-2 train rows (`textclass.finetune.train_heldout_rows`) and Level 5 mines paraphrases
from an unlabelled pool (`textclass.finetune.augmentation_pool`). Neither may contain an SST-2 validation or
test sentence -- compared here independently of the library, after normalising case, punctuation and
tokenisation ("does n't" == "doesn't") -- or the `improve` / `improve-test` grades would be measured on
sentences the model was trained on. The notebooks must build their pools with those functions."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from textclass import finetune as ft

REPO = Path(__file__).resolve().parent.parent


def _norm(text: str) -> str:   # an independent normalisation (not the library's)
    return "".join(ch for ch in text.lower().replace("-lrb-", "(").replace("-rrb-", ")") if ch.isalnum())


@pytest.fixture(scope="module")
def sst2():
    from textclass import data

    try:
        return {split: list(data.load_sst2(split, profile="offline")["sentence"])
                for split in ("train", "validation", "test")}
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"SST-2 not available offline: {exc}")


@pytest.fixture(scope="module")
def evaluation(sst2):
    return {_norm(s) for s in sst2["validation"] + sst2["test"]}


def test_augmentation_pool_has_no_evaluation_sentence(sst2, evaluation):
    pool = ft.augmentation_pool("offline")
    assert len(pool) > 1000, "the pool should be most of rotten_tomatoes validation + test"
    normed = [_norm(p) for p in pool]
    assert not set(normed) & evaluation
    long_eval = [e for e in evaluation if len(e) >= 20]
    joined = "\n".join(evaluation)
    inside = [p for p in normed if len(p) >= 20 and (p in joined or any(e in p for e in long_eval))]
    assert not inside, f"{len(inside)} pool sentences contain or are part of an evaluation sentence: {inside[:3]}"


def test_training_rows_have_no_evaluation_sentence(sst2, evaluation):
    train = sst2["train"]
    naive = {i for i, s in enumerate(train) if _norm(s) in evaluation}
    assert naive, "SST-2 train shares some sentences with validation/test; this test must be able to fail"
    rows, held, dropped = ft.train_heldout_rows(train, 2000, seed=0, evaluation=ft.evaluation_sentences("offline"))
    assert dropped >= len(naive)
    assert not (set(rows.tolist()) | set(held.tolist())) & naive
    assert len(held) >= 1990 and not set(rows.tolist()) & set(held.tolist())


def test_the_filter_catches_disguised_and_embedded_sentences(sst2):
    evaluation = ft.evaluation_sentences("offline")
    sentence = next(s for s in sst2["test"] if "n't" in s and len(s) > 60)
    disguised = sentence.replace(" n't", "n't").replace(" ,", ",").upper()
    embedded = "as one critic put it , " + sentence + " and that is that"
    fragment = " ".join(sentence.split()[2:-2])
    keep = ft.outside_evaluation([disguised, embedded, fragment, "a wholly new sentence about nothing at all"],
                                 evaluation)
    assert keep.tolist() == [False, False, False, True]
    assert ft.outside_evaluation([fragment], evaluation, fragments=False).tolist() == [True]


def _source(level: str, grade_id: str) -> str:
    nb = nbformat.read(REPO / "solutions" / level / f"{level}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_the_notebooks_build_their_pools_from_the_filtered_sources():
    assert "ft.train_heldout_rows(" in _source("finetune", "load_data")
    assert "ft.train_heldout_rows(" in _source("improve", "load_data")
    augment = _source("improve", "augment")
    assert "ft.augmentation_pool(" in augment
    assert not re.search(r"\btest_texts\b|\bval_texts\b", augment.split("XP = ")[0]), \
        "the augmentation pool must not be built from validation or test sentences"
    assert "permutation(train_rows)" in _source("improve", "teacher"), "distillation phrases come from train_rows"
    assert "clean[rows]" in _source("improve", "probes") and "clean[rows]" in augment


def test_level5_cuts_level4s_slice_with_level4s_seed():
    """Level 5 trains students on every row outside Level 4's held-out slice: a slice recomputed from Level 5's
    own seed would differ from Level 4's when the learner changed it there (and leak its training rows into
    held-out). The seed comes from the saved model's info.json: `split_seed` (the slice's seed, written by Level 4),
    else `seed` (models saved before split_seed existed). A Level 4 run with seed=1, split_seed=0 cut seed 0's slice;
    Level 5 cutting seed 1's would hold rows that baseline trained on."""
    from textclass.finetune import split_seed_of

    assert split_seed_of({"seed": 1, "split_seed": 0}) == 0          # seed 1's run on seed 0's slice
    assert split_seed_of({"seed": 1}) == 1                           # saved before split_seed existed
    assert split_seed_of({}, default=3) == 3 and split_seed_of({"seed": 2, "split_seed": 2}) == 2
    load = _source("improve", "load_data")
    assert "split_seed = ft.split_seed_of(ft_info, default=seed)" in load and "seed=split_seed" in load
    script = (REPO / "scripts" / "distil_student.py").read_text(encoding="utf-8")
    assert "seed=ft.split_seed_of(provenance)" in script     # the teacher's own slice, by the same rule
    final = _source("finetune", "final")
    assert '"seed": seed' in final and '"split_seed": split_seed' in final


def test_level6_rotten_tomatoes_unseen_rows_are_not_sst2_train_phrases(sst2):
    """Level 6 transfers the SST-2 models to rotten_tomatoes test, built from the same reviews: most of its
    sentences are SST-2 train phrases. The 'unseen' rows it reports (textclass.finetune.outside_evaluation
    against SST-2 train) hold none of them, compared with the independent normalisation; and the notebook
    builds them that way."""
    from textclass import data

    texts = list(data.load_split("rotten_tomatoes", "test", profile="offline")["text"])
    train = {_norm(s) for s in sst2["train"]}
    seen = sum(_norm(t) in train for t in texts)
    assert seen > len(texts) / 2                      # why the unseen rows matter: most are train phrases
    unseen = ft.outside_evaluation(texts, [ft.normalize_text(s) for s in sst2["train"]])
    assert 0 < unseen.sum() < len(texts) - seen
    assert not any(_norm(t) in train for t, keep in zip(texts, unseen) if keep)
    source = "".join(c.source for c in nbformat.read(REPO / "solutions/beyond/beyond.ipynb", 4).cells)
    assert "ft.outside_evaluation(list(ds[text_col]), sst2_train_seen)" in source


def test_a_phrase_heldout_slice_is_mostly_parts_of_training_rows_and_a_sentence_slice_is_not(sst2, evaluation):
    """Why Level 5's held-out choice can be wrong (book/improve.md): SST-2 train holds every phrase of its
    sentences, so most phrases of the random 2,000-phrase slice are part of, or contain, a training row. The
    sentence-grouped slice (train_heldout_rows(by_sentence=True)) holds out whole sentences with their phrases:
    no held-out row is equal to, part of or contains a training row (long rows; independent normalisation),
    and no evaluation sentence is on either side."""
    train = sst2["train"]
    ev = ft.evaluation_sentences("offline")
    rows, held, _ = ft.train_heldout_rows(train, 2000, seed=0, evaluation=ev)
    leaky = ~ft.outside_evaluation([train[i] for i in held], [ft.normalize_text(train[i]) for i in rows])
    assert leaky.mean() > 0.5

    rows, held, _ = ft.train_heldout_rows(train, 2000, seed=0, evaluation=ev, by_sentence=True)
    assert 1900 <= len(held) <= 2100 and not set(rows) & set(held)
    assert len(rows) + len(held) > 0.99 * len(train) - 100        # almost nothing is dropped
    joined = "\n".join(_norm(train[i]) for i in rows)
    held_norm = [_norm(train[i]) for i in held]
    assert all(len(h) >= 20 for h in held_norm)
    assert not any(h in joined for h in held_norm)                    # no held-out row inside a training row
    held_joined = "\n".join(held_norm)
    assert not any(len(t) >= 20 and t in held_joined for t in (_norm(train[i]) for i in rows))
    assert not {_norm(train[i]) for i in held} & evaluation
    again = ft.train_heldout_rows(train, 2000, seed=0, evaluation=ev, by_sentence=True)
    assert again[1].tolist() == held.tolist()                         # seeded
    split = ft.heldout_sentences_split(train, 2000, seed=0)           # before the evaluation filter
    assert len(split) == 2 and not set(split[0]) & set(split[1]) and len(split[0]) + len(split[1]) < len(train)
