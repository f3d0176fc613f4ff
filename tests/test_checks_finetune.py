"""Fine-tuning level: for every exercise the solution gets full marks through its check, the blank student
version 0, plausible wrong answers lose points, and any return value is scored without raising."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import finetune as checks
from notebook_cells import assert_full_marks_and_blank_zero, solution_and_student


# ------------------------------------------------------------------------------------- choose_by_heldout
@pytest.fixture(scope="module")
def ex():
    return solution_and_student("finetune", "finetune", "choose_by_heldout")


@pytest.mark.choose_by_heldout
def test_solution_full_marks_student_zero(ex):
    assert_full_marks_and_blank_zero(checks.check_choose_by_heldout, ex, ("choose_by_heldout",))


def _by_validation(runs):
    if not runs:
        raise ValueError
    return max(runs, key=lambda r: r["validation_accuracy"])


def _last_on_tie(runs):
    if not runs:
        raise ValueError
    best = runs[0]
    for r in runs:
        if r["heldout_accuracy"] >= best["heldout_accuracy"]:
            best = r
    return best


def _no_empty_check(runs):
    return max(runs, key=lambda r: r["heldout_accuracy"]) if runs else None  # silently returns nothing


class _EqualToAnything(dict):
    """A learner's object whose == answers True to anything (it cannot cross the trusted grader; in a notebook it
    could)."""
    def __eq__(self, other):
        return True

    __hash__ = None


def _equal_to_anything(runs):
    return _EqualToAnything()


@pytest.mark.parametrize("wrong,max_expected", [(_by_validation, 2), (_last_on_tie, 7), (_no_empty_check, 8),
                                                (_equal_to_anything, 0)])
def test_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_choose_by_heldout(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_choose_by_heldout_compares_by_value_not_identity():
    """Through the trusted grader the returned dict is a JSON copy: a copy of the right run is right."""
    import copy

    def copying(runs):
        if not runs:
            raise ValueError
        best = runs[0]
        for r in runs[1:]:
            if r["heldout_accuracy"] > best["heldout_accuracy"]:
                best = r
        return copy.deepcopy(best)

    assert checks.check_choose_by_heldout(copying).score == 10


def test_heldout_split_is_disjoint_and_seeded():
    from textclass.finetune import heldout_split

    tr, ho = heldout_split(100, 20, seed=3)
    assert len(ho) == 20 and len(tr) == 80 and not set(tr) & set(ho)
    assert (heldout_split(100, 20, seed=3)[1] == ho).all()


# ------------------------------------------------------------------------------------------- train_step
@pytest.fixture(scope="module")
def step_ex():
    return solution_and_student("finetune", "finetune", "train_step")


@pytest.mark.train_step
def test_train_step_solution_full_marks_student_zero(step_ex):
    assert_full_marks_and_blank_zero(checks.check_train_step, step_ex, ("train_step",))


def _step(zero_grad=True, sched=True, loss_after=False, mse=False, returns="float"):
    def train_step(model, batch, optimizer, scheduler):
        import torch

        logits = model(batch["input_ids"], batch["attention_mask"])
        if mse:
            loss = torch.nn.functional.mse_loss(torch.softmax(logits, -1)[:, 1], batch["labels"].float())
        else:
            loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if sched:
            scheduler.step()
        if loss_after:
            with torch.no_grad():
                return float(torch.nn.functional.cross_entropy(model(batch["input_ids"], batch["attention_mask"]),
                                                               batch["labels"]))
        if returns == "tensor":
            return loss
        if returns == "text":
            return f"{float(loss):.6f}"
        return float(loss) if returns == "float" else None
    return train_step


@pytest.mark.parametrize("wrong,max_expected", [
    (_step(zero_grad=False), 7), (_step(sched=False), 5), (_step(zero_grad=False, sched=False), 5),
    (_step(loss_after=True), 8), (_step(mse=True), 2)])
def test_train_step_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_train_step(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


def test_a_right_step_that_forgets_to_return_keeps_the_points_of_the_update():
    """Forgetting `return` costs the loss part only, and the message says what came back and what to return."""
    r = checks.check_train_step(_step(returns=None))
    assert r.score == 8, r.report()
    assert "returned NoneType" in r.report() and "float(loss)" in r.report()


def test_a_one_element_tensor_is_a_loss_too():
    assert checks.check_train_step(_step(returns="tensor")).score == 10


def test_a_loss_returned_as_text_is_not_a_loss():   # the update is right: only the returned loss's points go
    r = checks.check_train_step(_step(returns="text"))
    assert r.score == 8, r.report()


def test_zero_grad_after_the_step_is_also_right():
    def late_zero(model, batch, optimizer, scheduler):
        import torch

        loss = torch.nn.functional.cross_entropy(model(batch["input_ids"], batch["attention_mask"]), batch["labels"])
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        return loss.item()

    assert checks.check_train_step(late_zero).score == 10


# ----------------------------------------------------------------------------------------- count_padding
@pytest.fixture(scope="module")
def pad_ex():
    return solution_and_student("finetune", "finetune", "count_padding")


@pytest.mark.count_padding
def test_count_padding_solution_full_marks_student_zero(pad_ex):
    assert_full_marks_and_blank_zero(checks.check_count_padding, pad_ex, ("count_padding",))


def _no_truncation(lengths, bs, ml, sort=False):
    return checks.reference_count_padding(lengths, bs, 10**9, sort)


def _all_tokens(lengths, bs, ml, sort=False):
    return checks.reference_count_padding(lengths, bs, ml, sort) + sum(min(n, ml) for n in lengths)


def _pad_to_global_max(lengths, bs, ml, sort=False):
    lengths = [min(n, ml) for n in lengths]
    return max(lengths) * len(lengths) - sum(lengths)


def _never_sorts(lengths, bs, ml, sort=False):
    return checks.reference_count_padding(lengths, bs, ml, False)


def _sorted_descending_drops_last(lengths, bs, ml, sort=False):
    lengths = [min(n, ml) for n in lengths]
    if sort:
        lengths = sorted(lengths, reverse=True)
    full = len(lengths) // bs * bs  # forgets the last, smaller batch
    return sum(max(lengths[i:i + bs]) * bs - sum(lengths[i:i + bs]) for i in range(0, full, bs))


def _drops_last_batch(lengths, bs, ml, sort=False):   # forgets that the last, smaller batch pads too
    lengths = [min(n, ml) for n in lengths]
    lengths = sorted(lengths) if sort else lengths
    full = len(lengths) // bs * bs
    return sum(max(lengths[i:i + bs]) * bs - sum(lengths[i:i + bs]) for i in range(0, full, bs))


@pytest.mark.parametrize("wrong,max_expected", [(_no_truncation, 7.5), (_all_tokens, 0), (_pad_to_global_max, 6.25),
                                                (_never_sorts, 6.25), (_sorted_descending_drops_last, 7.5),
                                                (_drops_last_batch, 7.0)])
def test_count_padding_wrong_answers_lose_points(wrong, max_expected):
    r = checks.check_count_padding(wrong)
    assert r.score <= max_expected < r.max_score, r.report()


# ------------------------------------------------------------------------------------- any return value
@pytest.mark.parametrize("value", [None, "12", float("nan"), [1, 2], {"a": 1}, True, np.array([3.0])])
def test_any_return_value_is_scored_without_raising(value):
    for check in (checks.check_count_padding, checks.check_choose_by_heldout, checks.check_train_step):
        r = check(lambda *a, **k: value)
        assert r.score < r.max_score, r.report()


def test_an_exception_is_scored_without_raising():
    def boom(*a, **k):
        raise RuntimeError("boom")

    for check in (checks.check_count_padding, checks.check_choose_by_heldout, checks.check_train_step):
        assert check(boom).score == 0


# ------------------------------------------------------------------- the loop runs the learner's step
def test_train_loop_runs_the_learners_step_and_never_stops_before_min_steps():
    """textclass.finetune.train_loop calls the given step once per batch (with extras sliced per batch), records
    the mean loss per evaluation, and early stopping cannot end the run before ``min_steps``."""
    import torch

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    enc = load_encoder(MINILM, profile="offline")
    model = ft.PooledClassifier(enc.model, layers=1)
    texts = [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(40)]
    labels = np.arange(40) % 2
    calls, seen = [], []

    def step(model, batch, optimizer, scheduler):
        seen.append(batch["weights"].tolist())
        calls.append(len(batch["labels"]))
        return checks.reference_train_step(model, batch, optimizer, scheduler)

    out = ft.train_loop(model, enc.tokenizer, texts, labels, heldout_texts=texts[:8], heldout_labels=labels[:8],
                        step=step, extras={"weights": np.arange(40.0)}, lr=0.0, batch_size=8, eval_every=1,
                        patience=1, min_steps=5, epochs=2, progress=False)
    assert out["steps"] == len(calls) >= 5 and sum(calls) == 8 * len(calls)
    assert sorted(x for batch in seen[:5] for x in batch) == list(np.arange(40.0))   # one epoch, each row once
    assert len(out["history"]) == out["steps"] and all(np.isfinite(h["loss"]) for h in out["history"])
    assert isinstance(torch.get_num_threads(), int)


def test_reference_answers_score_full_marks_after_a_json_round_trip():
    """Contract 1: the trusted grader's proxies return JSON copies; the checks compare by value."""
    import json

    def through_json(fn):
        return lambda *a, **k: json.loads(json.dumps(fn(*a, **k)))

    def choose(runs):
        if not runs:
            raise ValueError("no runs")
        best = runs[0]
        for r in runs[1:]:
            if r["heldout_accuracy"] > best["heldout_accuracy"]:
                best = r
        return best

    assert checks.check_choose_by_heldout(through_json(choose)).score == 10
    assert checks.check_count_padding(through_json(checks.reference_count_padding)).score == 10


def test_length_grouped_order_keeps_every_row_once_and_removes_most_padding():
    """train_loop's batches (and Trainer's, group_by_length=True): every row once per epoch, seeded, and most
    of the padding of shuffled batches gone, which is what makes a full epoch affordable on a CPU."""
    from textclass import finetune as ft

    lengths = np.random.default_rng(1).integers(3, 60, size=5003)
    order = ft.length_grouped_order(lengths, 16, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(5003))
    assert order.tolist() == ft.length_grouped_order(lengths, 16, np.random.default_rng(0)).tolist()
    shuffled = np.random.default_rng(0).permutation(5003)

    def pads(o):
        return sum(int(lengths[o[i:i + 16]].max() * len(o[i:i + 16]) - lengths[o[i:i + 16]].sum())
                   for i in range(0, len(o), 16))
    assert pads(order) < 0.1 * pads(shuffled)
    firsts = [int(order[i]) for i in range(0, 400, 16)]
    assert firsts != sorted(firsts, key=lambda r: -lengths[r])   # batches are shuffled, not longest first


def _tiny_bert_classifier(tokenizer, layers: int = 1):
    """A PooledClassifier over a 16-wide random BERT (one layer unless told) with the tokenizer's vocabulary (fast,
    real code)."""
    import transformers

    from textclass import finetune as ft

    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=layers,
                                     num_attention_heads=2, intermediate_size=32)
    return ft.PooledClassifier(transformers.BertModel(config))


@pytest.mark.parametrize("grouped", [True, False])
def test_trainer_groups_batches_by_length_as_the_loop_does(tmp_path, grouped):
    """Level 4's Trainer run sees the batches the plain loop sees: grouped by length, or shuffled when the
    notebook's ``group_by_length`` is False (real Trainer, tiny random BERT, the offline MiniLM tokenizer)."""
    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    model = _tiny_bert_classifier(tok)
    texts = ["good", "a bad , bad film", "fine .", "not good at all , and long"] * 4
    labels = [1, 0, 1, 0] * 4
    trainer = ft.train_with_trainer(model, tok, texts, labels, heldout_texts=texts[:4], heldout_labels=labels[:4],
                                    output_dir=str(tmp_path), batch_size=4, eval_steps=2, group_by_length=grouped)
    strategy = getattr(trainer.args, "train_sampling_strategy", None)
    grouping = strategy == "group_by_length" if strategy is not None else trainer.args.group_by_length
    assert grouping is grouped
    assert trainer.state.global_step == 4


def test_pad_batch_equals_the_tokenizers_own_padding():
    """train_loop tokenises the train set once and pads each batch from those ids (pad_batch): the tensors are
    exactly what ``tokenizer(texts, padding=True, truncation=True)`` gives, on either padding side."""
    import torch

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    texts = ["a", "an utterly charming and hilarious film , though the ending drags", "not good .",
             "word " * 100]
    for side in ("right", "left"):
        tok.padding_side = side
        ids = tok(texts, truncation=True, max_length=16)["input_ids"]
        mine = ft.pad_batch(ids, tok)
        ref = tok(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
        assert torch.equal(mine["input_ids"], ref["input_ids"]), side
        assert torch.equal(mine["attention_mask"], ref["attention_mask"]), side
    tok.padding_side = "right"


def test_train_loop_ema_evaluates_and_returns_the_moving_average_and_trains_on_unchanged():
    """``ema``: the returned weights are the moving average of the weights after each step (decay
    ``min(ema, (1 + n) / (10 + n))``), computed here by hand from the weights the step leaves -- with a held-out
    slice, the average at the best evaluation; the evaluations swap the average in and the current weights back,
    so the training itself is the run without ``ema``, loss for loss."""
    import torch

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    texts = [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(40)]
    labels = np.arange(40) % 2

    def run(ema, heldout):
        torch.manual_seed(0)
        model = _tiny_bert_classifier(tok)
        after = []

        def step(model, batch, optimizer, scheduler):
            loss = checks.reference_train_step(model, batch, optimizer, scheduler)
            after.append(model.head.weight.detach().clone())
            return loss

        held = {"heldout_texts": texts[:8], "heldout_labels": labels[:8], "eval_every": 2, "patience": 100} if heldout else {}
        start = model.head.weight.detach().clone()
        out = ft.train_loop(model, tok, texts, labels, step=step, lr=1e-2, batch_size=8, epochs=2, ema=ema,
                            progress=False, **held)
        return model, out, start, after

    def average(start, after, ema):
        expected = start.clone()
        for n, w in enumerate(after):
            decay = min(ema, (1 + n) / (10 + n))      # 0.3 caps it from the fourth step on
            expected = decay * expected + (1 - decay) * w
        return expected

    _, plain_out, _, _ = run(None, heldout=True)
    averaged, ema_out, start, after = run(0.3, heldout=True)
    assert ema_out["losses"] == plain_out["losses"]          # evaluating the average did not move the training
    assert [h["step"] for h in ema_out["history"]] == [2, 4, 6, 8, 10]
    best = max(ema_out["history"], key=lambda h: h["heldout_accuracy"])   # the first of the best
    assert torch.allclose(averaged.head.weight, average(start, after[:best["step"]], 0.3), atol=1e-6)
    held = ft.predict_proba(averaged, tok, texts[:8]).argmax(1)
    assert 100 * float((held == labels[:8]).mean()) == pytest.approx(ema_out["best_heldout_accuracy"])

    model, _, start, after = run(0.3, heldout=False)
    assert torch.allclose(model.head.weight, average(start, after, 0.3), atol=1e-6)
    assert not torch.allclose(model.head.weight, average(start, after, 0.9), atol=1e-4)   # ema is used, not ignored
    assert not torch.allclose(model.head.weight, after[-1], atol=1e-4)     # not simply the last weights
    for bad in (0, 1, -0.5, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            ft.train_loop(model, tok, texts[:8], labels[:8], ema=bad, progress=False)


def test_train_loop_layer_decay_gives_each_layer_its_learning_rate_under_one_schedule():
    """``layer_decay``: at every step the head (and BERT's pooler) train at the scheduled rate, transformer layer
    ``k`` of 3 at ``layer_decay ** (3 - k)`` times it, the embeddings at ``layer_decay ** 4`` times it -- the
    rates read here from the optimizer the learner's step receives, the expected factors written out by hand;
    the schedule (warm-up, decay) is the run without ``layer_decay``; 1 is no decay; outside (0, 1] a ValueError."""
    import torch

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    texts = [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(40)]
    labels = np.arange(40) % 2

    def run(layer_decay):
        torch.manual_seed(0)
        model = _tiny_bert_classifier(tok, layers=3)
        names = {id(p): n for n, p in model.named_parameters()}
        rates = []

        def step(model, batch, optimizer, scheduler):
            rates.append({names[id(p)]: g["lr"] for g in optimizer.param_groups for p in g["params"]})
            return checks.reference_train_step(model, batch, optimizer, scheduler)

        out = ft.train_loop(model, tok, texts, labels, step=step, lr=1e-3, batch_size=8, epochs=2,
                            layer_decay=layer_decay, progress=False)
        return rates, out, model

    def factor(name, d):
        if name.startswith("encoder.embeddings."):
            return d ** 4
        for k in range(3):
            if name.startswith(f"encoder.encoder.layer.{k}."):
                return d ** (3 - k)
        assert name.startswith(("head.", "encoder.pooler."))
        return 1.0

    plain, plain_out, _ = run(None)
    decayed, _, model = run(0.5)
    assert len(decayed) == len(plain) == 10
    assert len(decayed[0]) == len(list(model.parameters()))        # every parameter is trained
    for before, after in zip(plain, decayed):
        scheduled = before["head.weight"]
        assert len(set(before.values())) == 1                       # no decay: one rate for all
        for name, rate in after.items():
            assert rate == pytest.approx(scheduled * factor(name, 0.5), rel=1e-9), name
    assert decayed[0]["encoder.embeddings.word_embeddings.weight"] < decayed[0]["encoder.encoder.layer.0.output.dense.weight"]
    _, one_out, _ = run(1.0)
    assert one_out["losses"] == pytest.approx(plain_out["losses"])
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="layer_decay"):
            ft.train_loop(model, tok, texts[:8], labels[:8], layer_decay=bad, progress=False)


def test_layer_depths_of_mpnet_distilbert_and_roberta_names():
    """MPNet's shared relative-position bias sits with the embeddings (depth 0), layers above, the head on top;
    DistilBERT's transformer.layer.N and RoBERTa's LayerNorm names are read as layers, not as the head."""
    from textclass import finetune as ft

    names = ["encoder.embeddings.word_embeddings.weight", "encoder.encoder.relative_attention_bias.weight",
             "encoder.encoder.layer.0.attention.attn.q.weight", "encoder.encoder.layer.11.output.dense.bias",
             "encoder.pooler.dense.weight", "head.weight"]
    assert ft.layer_depths(names) == ([0, 0, 1, 12, 13, 13], 13)
    assert ft.layer_depths(["head.weight", "head.bias"]) == ([1, 1], 1)
    distilbert = ["encoder.embeddings.word_embeddings.weight", "encoder.transformer.layer.0.ffn.lin1.weight",
                  "encoder.transformer.layer.5.output_layer_norm.weight", "head.bias"]
    assert ft.layer_depths(distilbert) == ([0, 1, 6, 7], 7)
    roberta = ["encoder.embeddings.LayerNorm.weight", "encoder.encoder.layer.0.attention.output.LayerNorm.bias",
               "encoder.encoder.layer.1.output.dense.weight", "encoder.pooler.dense.bias"]
    assert ft.layer_depths(roberta) == ([0, 1, 2, 3], 3)


def test_trainer_with_layer_decay_trains_each_depth_at_its_rate(tmp_path):
    """Level 4's Trainer run with ``layer_decay`` uses the loop's layer groups: after training, each group's
    starting rate (``initial_lr``) is ``lr * 0.5 ** (top - depth)`` (real Trainer, tiny 2-layer random BERT)."""
    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    model = _tiny_bert_classifier(tok, layers=2)
    texts = ["good", "a bad , bad film", "fine .", "not good at all , and long"] * 4
    labels = [1, 0, 1, 0] * 4
    trainer = ft.train_with_trainer(model, tok, texts, labels, heldout_texts=texts[:4], heldout_labels=labels[:4],
                                    output_dir=str(tmp_path), batch_size=4, eval_steps=2, lr=1e-3, layer_decay=0.5)
    names = {id(p): n for n, p in model.named_parameters()}
    start = {names[id(p)]: g["initial_lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    assert start["head.weight"] == pytest.approx(1e-3)
    assert start["encoder.encoder.layer.1.output.dense.weight"] == pytest.approx(5e-4)
    assert start["encoder.encoder.layer.0.output.dense.weight"] == pytest.approx(2.5e-4)
    assert start["encoder.embeddings.word_embeddings.weight"] == pytest.approx(1.25e-4)
    assert trainer.state.global_step == 4


def test_probe_head_is_the_logistic_regression_on_the_frozen_features_and_fresh_models_start_from_it():
    """LP-FT's first stage (``probe_first``): the head ``probe_head`` returns predicts what sklearn's logistic
    regression on the mean-pooled features predicts, with its probabilities (two classes: ``-w/2, +w/2``); the
    model it was fitted on keeps its own head; soft targets fit their most likely class; bad labels are refused."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from textclass import finetune as ft
    from textclass.models import MINILM, load_encoder

    tok = load_encoder(MINILM, profile="offline").tokenizer
    torch.manual_seed(0)
    model = _tiny_bert_classifier(tok)
    texts = [f"{'a great' if i % 3 else 'an awful'} film number {i}" for i in range(30)]
    labels = (np.arange(30) % 3 != 0).astype(int)
    before = model.head.weight.detach().clone()
    probe = ft.probe_head(model, tok, texts, labels)
    assert torch.equal(model.head.weight, before)
    from textclass.probe import embed_texts

    features = embed_texts(model.encoder, tok, texts, normalize=False, max_length=64, device="cpu")
    sk = LogisticRegression(max_iter=1000).fit(features, labels)
    fresh = _tiny_bert_classifier(tok)
    fresh.encoder.load_state_dict(model.encoder.state_dict())
    fresh.head.load_state_dict(probe["state"])
    mine = ft.predict_proba(fresh, tok, texts)
    assert np.allclose(mine, sk.predict_proba(features), atol=1e-4)
    assert probe["train_accuracy"] == pytest.approx(100 * sk.score(features, labels))
    soft = np.stack([1 - labels * 0.8 - 0.1, labels * 0.8 + 0.1], 1)   # the same classes, as probabilities
    assert torch.allclose(ft.probe_head(model, tok, texts, soft)["state"]["weight"], probe["state"]["weight"])
    three = ft.PooledClassifier(model.encoder, num_labels=3)
    multi = ft.probe_head(three, tok, texts, labels)   # class 2 never seen: never predicted
    three.head.load_state_dict(multi["state"])
    assert set(ft.predict_proba(three, tok, texts).argmax(1)) <= {0, 1}
    for bad, match in (([1] * 30, "at least two"), (labels[:5], "one label per text"), (labels + 5, "class indices")):
        with pytest.raises(ValueError, match=match):
            ft.probe_head(model, tok, texts, bad)
