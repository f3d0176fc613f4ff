"""Fine-tuning a mean-pooled encoder with a linear head: a plain PyTorch loop and a ``transformers.Trainer``.

The model is :class:`PooledClassifier` (encoder -> mean pooling -> dropout -> linear). Mixed precision
(bf16/fp16 autocast) is used only on CUDA. Early stopping watches accuracy on a held-out slice of *train*;
validation is never used to choose anything.
"""
from __future__ import annotations

import copy
import functools
import random
import time

import numpy as np

from pathlib import Path

from textclass.probe import mean_pool


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def heldout_split(n: int, heldout: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out) of a random split of ``n`` training rows."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[heldout:]), np.sort(perm[:heldout])


@functools.lru_cache(maxsize=None)
def _module():
    """The PooledClassifier class, defined once (torch is imported only when it is first needed)."""
    import torch

    class PooledClassifier(torch.nn.Module):
        def __init__(self, encoder, num_labels: int = 2, dropout: float = 0.1, layers: int | None = None):
            super().__init__()
            self.encoder = encoder
            if layers is not None:  # keep only the first `layers` transformer layers (a smaller, faster student)
                encoder.encoder.layer = encoder.encoder.layer[:layers]
                encoder.config.num_hidden_layers = layers
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(encoder.config.hidden_size, num_labels)

        def forward(self, input_ids, attention_mask, labels=None, **kwargs):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            logits = self.head(self.dropout(mean_pool(hidden, attention_mask)))
            if labels is not None:
                loss = torch.nn.functional.cross_entropy(logits, labels)
                return {"loss": loss, "logits": logits}
            return logits

    return PooledClassifier


def __getattr__(name: str):
    # ``textclass.finetune.PooledClassifier`` is one class (so isinstance works), built on first use
    if name == "PooledClassifier":
        return _module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def real_bf16() -> bool:
    """True only when the GPU computes bf16 natively (Ampere and later). ``torch.cuda.is_bf16_supported()`` is
    also true on T4-class GPUs through slow emulation; those get fp16 with a GradScaler instead."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # an older torch without the argument
        return torch.cuda.get_device_capability()[0] >= 8


def mixed_precision(device: str) -> str | None:
    """``"bf16"`` on GPUs with real bf16, ``"fp16"`` (with a GradScaler) on other CUDA GPUs, None elsewhere."""
    if not str(device).startswith("cuda"):
        return None
    return "bf16" if real_bf16() else "fp16"


def _autocast(device: str):
    import contextlib

    import torch

    precision = mixed_precision(device)
    if precision:
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return contextlib.nullcontext()


def predict_proba(model, tokenizer, texts, *, batch_size: int = 64, device: str = "cpu", max_length: int = 64):
    import torch

    from textclass.evaluate import tokenized_batches

    texts = list(texts)
    model.eval().to(device)
    out = None
    with torch.inference_mode():
        for batch, enc in tokenized_batches(tokenizer, texts, batch_size, max_length=max_length):
            enc = enc.to(device)
            with _autocast(device):
                logits = model(enc["input_ids"], enc["attention_mask"])
            p = torch.softmax(logits.float(), -1).cpu().numpy()
            if out is None:
                out = np.zeros((len(texts), p.shape[1]), dtype=np.float32)
            out[batch] = p
    return out


def probe_head(model, tokenizer, texts, labels, *, C: float = 1.0, max_iter: int = 1000, batch_size: int = 128,
               device: str = "cpu", max_length: int = 64) -> dict:
    """The first stage of LP-FT (Kumar et al., 2022, "Fine-tuning can distort pretrained features"): a logistic
    regression fitted on the frozen encoder's mean-pooled features (:func:`textclass.probe.embed_texts`, what the
    head reads), written as the head's weights, so that fine-tuning starts from a trained head instead of a random
    one and its first steps do not push a random head's errors into the encoder.

    ``labels`` are class indices, or rows of class probabilities (Level 4's ``teacher_labels`` targets: their most
    likely class is fitted). Returns ``{"state": the head's state_dict, "train_accuracy", "seconds"}``; load
    ``state`` into a fresh model's ``head`` (the model given here is left with its own head unchanged). A two-class
    probe has one weight vector ``w``: the head gets ``-w/2`` and ``+w/2``, whose softmax is the probe's sigmoid."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from textclass.probe import embed_texts

    start = time.perf_counter()
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(1)
    n_out = model.head.out_features
    if len(labels) != len(texts) or not len(labels):
        raise ValueError(f"probe_head: {len(texts)} texts and {len(labels)} labels: give one label per text")
    if labels.min() < 0 or labels.max() >= n_out:
        raise ValueError(f"probe_head: labels must be class indices 0..{n_out - 1} (the head's outputs)")
    model.eval()   # no dropout
    features = embed_texts(model.encoder, tokenizer, texts, batch_size=batch_size, normalize=False,
                           max_length=max_length, device=device)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("probe_head: every label is the same class; a probe needs at least two")
    clf = LogisticRegression(C=C, max_iter=max_iter).fit(features, labels)
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:   # two classes: one logit difference, split evenly over their two logits
        coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_out, features.shape[1]), dtype=np.float32)
    bias = np.full(n_out, -1e4 if len(classes) < n_out else 0.0, dtype=np.float32)   # an unseen class: never chosen
    weight[clf.classes_], bias[clf.classes_] = coef, intercept
    ref = model.head.weight
    state = {"weight": torch.as_tensor(weight, dtype=ref.dtype), "bias": torch.as_tensor(bias, dtype=ref.dtype)}
    return {"state": state, "train_accuracy": 100 * float(clf.score(features, labels)),
            "seconds": time.perf_counter() - start}


def int8_copy(model):
    """A copy of ``model`` with int8 linear layers: torch's dynamic quantization (int8 weights, activations
    quantized on the fly), run on the CPU. Level 5 and scripts/distil_student.py make their int8 students so."""
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8)


def length_grouped_order(lengths, batch_size: int, rng, mega: int = 50) -> np.ndarray:
    """A shuffled order in which each run of ``batch_size`` rows has similar lengths (``Trainer``'s
    ``group_by_length``): shuffle, cut into mega-batches of ``mega * batch_size`` rows, sort each by length, cut
    it into batches and shuffle the batches. Every row appears once; padding falls to a few percent."""
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    size = mega * batch_size
    batches = []
    for i in range(0, len(order), size):
        chunk = order[i:i + size]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    full = [b for b in batches if len(b) == batch_size]
    short = [b for b in batches if len(b) < batch_size]   # at most one per mega-batch: they go last
    full = [full[k] for k in rng.permutation(len(full))]
    return np.concatenate(full + short) if batches else order


def pad_batch(rows, tokenizer, device: str = "cpu") -> dict:
    """Token id lists -> ``input_ids`` and ``attention_mask`` tensors padded to the longest row (dynamic
    padding), on the tokenizer's padding side: what ``tokenizer(texts, padding=True)`` gives for the same texts."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        cols = slice(width - len(r), width) if tokenizer.padding_side == "left" else slice(0, len(r))
        ids[k, cols] = torch.as_tensor(r, dtype=torch.long)
        mask[k, cols] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def train_loop(model, tokenizer, texts, labels, *, heldout_texts=None, heldout_labels=None, epochs: int = 1,
               lr: float = 5e-5, batch_size: int = 16, max_length: int = 64, eval_every: int = 50,
               patience: int = 3, seed: int = 0, device: str = "cpu", soft_targets=None, temperature: float = 1.0,
               step=None, extras: dict | None = None, min_steps: int = 0, progress: bool = True,
               group_by_length: bool = True, ema: float | None = None, layer_decay: float | None = None) -> dict:
    """Plain PyTorch fine-tuning with AdamW, linear warm-up/decay, early stopping on the held-out slice.

    ``step(model, batch, optimizer, scheduler) -> loss`` is one training step (the learner writes it in Level 4;
    ``batch`` is a dict of tensors: ``input_ids``, ``attention_mask``, ``labels`` and one entry per ``extras``
    array, its rows for the batch). Without ``step`` the built-in step is used (mixed precision on CUDA).
    ``soft_targets`` (rows of teacher probabilities) switches the built-in loss to distillation: KL divergence
    to the teacher's distribution at ``temperature``. Early stopping never ends the run before ``min_steps``
    steps (e.g. one epoch). ``group_by_length`` batches phrases of similar length together (see
    :func:`length_grouped_order`), so that little of each batch is padding. The history holds, per evaluation,
    the mean training loss since the previous one and the held-out accuracy. Returns the history and restores the
    best held-out weights.

    ``ema`` (e.g. 0.999) keeps an exponential moving average of the weights, updated after every step (Polyak
    averaging; the decay is ``min(ema, (1 + n) / (10 + n))`` after ``n`` steps, so that the starting weights fade
    from the average within the first steps): the held-out evaluations, early stopping and the returned model then
    use the averaged weights, and training goes on from the current ones.

    ``layer_decay`` (e.g. 0.8) gives each layer its own learning rate (layer-wise learning-rate decay, as in
    ULMFiT's discriminative fine-tuning and ELECTRA): the head keeps ``lr``, the top transformer layer gets
    ``lr * layer_decay``, the one below ``lr * layer_decay ** 2``, down to the embeddings at
    ``lr * layer_decay ** (layers + 1)`` (see :func:`layer_depths`), so the pre-trained lower layers move less.
    """
    import torch
    from tqdm.auto import tqdm

    if ema is not None and not 0.0 < float(ema) < 1.0:
        raise ValueError(f"ema={ema!r}: the moving average's decay must lie between 0 and 1 (e.g. 0.999), "
                         "or None for no average")
    step_fn = step
    set_seed(seed)
    model.to(device).train()
    texts, labels = list(texts), np.asarray(labels)
    lr = float(lr)
    opt = adamw(model, lr, layer_decay)   # over the parameters where they now live
    steps = epochs * int(np.ceil(len(texts) / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, 0.1 * steps))
                                              * max(0.0, (steps - s) / steps))
    scaler = torch.amp.GradScaler("cuda") if mixed_precision(device) == "fp16" else None
    history, losses, step = [], [], 0
    state = {"best": -1.0, "best_state": None, "bad": 0}
    rng = np.random.default_rng(seed)
    # Tokenised once: the lengths group the batches and each batch is padded from these ids.
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    token_lengths = np.array([len(ids) for ids in encoded])
    start = time.perf_counter()
    stop = False

    # The moving average of the floating-point weights (state_dict entries share the parameters' storage).
    live = {k: v for k, v in model.state_dict().items() if v.is_floating_point()} if ema else {}
    shadow = {k: v.detach().clone() for k, v in live.items()}

    def update_average():
        decay = min(float(ema), (1 + step) / (10 + step))
        with torch.no_grad():
            for k, v in live.items():
                shadow[k].lerp_(v, 1.0 - decay)

    def evaluate(epoch) -> bool:
        """Held-out accuracy now (of the averaged weights with ``ema``); keep the best weights; True when early
        stopping says stop."""
        if ema:
            current = {k: v.detach().clone() for k, v in live.items()}
            model.load_state_dict(shadow, strict=False)
            try:
                return _evaluate(epoch)
            finally:
                model.load_state_dict(current, strict=False)
        return _evaluate(epoch)

    def _evaluate(epoch) -> bool:
        p = predict_proba(model, tokenizer, heldout_texts, device=device, max_length=max_length)
        acc = 100 * float((p.argmax(1) == np.asarray(heldout_labels)).mean())
        since = losses[-(step - (history[-1]["step"] if history else 0)):]
        history.append({"step": step, "epoch": epoch, "loss": float(np.mean(since)) if since else float("nan"),
                        "heldout_accuracy": acc, "seconds": time.perf_counter() - start})
        model.train()
        if acc > state["best"]:
            state.update(best=acc, bad=0,
                         best_state=copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()}))
            return False
        state["bad"] += 1
        return state["bad"] >= patience and step >= min_steps
    def _builtin_step(model, enc, idx) -> float:
        """The course's own step: (distillation or cross-entropy) loss, mixed precision on CUDA."""
        with _autocast(device):
            logits = model(enc["input_ids"], enc["attention_mask"]).float()
        if soft_targets is not None:
            target = torch.as_tensor(np.asarray(soft_targets)[idx], dtype=torch.float32, device=device)
            if temperature != 1.0:
                target = torch.softmax(torch.log(target.clamp_min(1e-8)) / temperature, -1)
            loss = torch.nn.functional.kl_div(torch.log_softmax(logits / temperature, -1), target,
                                              reduction="batchmean") * temperature ** 2
        else:
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels[idx], device=device))
        opt.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        sched.step()
        return float(loss.detach())

    with tqdm(total=steps, desc="fine-tuning", disable=not progress) as bar:
        for epoch in range(epochs):
            order = (length_grouped_order(token_lengths, batch_size, rng) if group_by_length
                     else rng.permutation(len(texts)))
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                enc = pad_batch([encoded[j] for j in idx], tokenizer, device)
                if step_fn is not None:
                    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                             "labels": torch.as_tensor(labels[idx], device=device)}
                    for name, values in (extras or {}).items():
                        batch[name] = torch.as_tensor(np.asarray(values)[idx], device=device)
                    loss_value = float(step_fn(model, batch, opt, sched))
                else:
                    loss_value = _builtin_step(model, enc, idx)
                if ema:
                    update_average()
                step += 1
                losses.append(loss_value)
                bar.update(1)
                last = step == steps
                if heldout_texts is not None and (step % eval_every == 0 or last):
                    stop = evaluate(epoch)
                    if stop:
                        break
            if stop:
                break
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    elif ema:
        model.load_state_dict(shadow, strict=False)
    model.eval()
    return {"history": history, "best_heldout_accuracy": state["best"], "steps": step, "losses": losses,
            "phrases_seen": min(step * batch_size, epochs * len(texts)),
            "seconds": time.perf_counter() - start, "examples_per_second": step * batch_size / max(1e-9, time.perf_counter() - start)}


def layer_depths(names) -> tuple[list[int], int]:
    """Each parameter's depth for layer-wise learning-rate decay, from its name, and the top depth.

    Embeddings (and MPNet's shared ``relative_attention_bias``) are depth 0, transformer layer ``k``
    (``...layer.k...``) is ``k + 1``, everything else (the head, a pooler) is the top, ``layers + 1``."""
    import re

    names = list(names)
    layer = [re.search(r"(?:^|\.)layer\.(\d+)\.", n) for n in names]
    top = 1 + max((int(m.group(1)) + 1 for m in layer if m), default=0)
    depths = [int(m.group(1)) + 1 if m else 0 if ("embeddings" in n or "relative_attention_bias" in n) else top
              for n, m in zip(names, layer)]
    return depths, top


def parameter_groups(model, lr: float, layer_decay: float | None = None):
    """The optimizer's parameters: all at ``lr`` (``layer_decay`` None), or the trainable ones in one group per
    depth of :func:`layer_depths` at ``lr * layer_decay ** (top - depth)``."""
    if layer_decay is None:
        return list(model.parameters())
    if not 0.0 < float(layer_decay) <= 1.0:
        raise ValueError(f"layer_decay={layer_decay!r}: each layer's learning rate is the one above it times "
                         "layer_decay, a number in (0, 1] (e.g. 0.8; 1 is no decay), or None")
    named = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
    depths, top = layer_depths(name for name, _ in named)
    by_depth: dict[int, list] = {}
    for (_, param), depth in zip(named, depths):
        by_depth.setdefault(depth, []).append(param)
    return [{"params": params, "lr": float(lr) * float(layer_decay) ** (top - depth)}
            for depth, params in sorted(by_depth.items())]


def adamw(model, lr: float, layer_decay: float | None = None):
    """The course's optimizer, for the plain loop and the Trainer alike: AdamW, weight decay 0.01 on every weight,
    over :func:`parameter_groups`."""
    import torch

    return torch.optim.AdamW(parameter_groups(model, lr, layer_decay), lr=float(lr), weight_decay=0.01)


def tokenized_dataset(texts, labels, tokenizer, *, max_length: int = 64):
    """A ``datasets.Dataset`` of token ids and ``labels`` (unpadded: ``DataCollatorWithPadding`` pads each batch),
    what ``transformers.Trainer`` takes."""
    import datasets

    def tok(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a "Map: 0%" bar of a second's work only clutters a saved notebook
    try:
        # a label is a class index, or a row of class probabilities (Level 4's teacher_labels)
        rows = [[float(v) for v in x] if np.ndim(x) else int(x) for x in labels]
        return datasets.Dataset.from_dict({"text": list(texts), "labels": rows}).map(
            tok, batched=True, remove_columns=["text"])
    finally:
        if not quiet:
            datasets.enable_progress_bars()


def train_with_trainer(model, tokenizer, texts, labels, *, heldout_texts, heldout_labels, output_dir: str,
                       epochs: int = 1, lr: float = 5e-5, batch_size: int = 16, max_length: int = 64,
                       eval_steps: int = 50, patience: int = 3, seed: int = 0, group_by_length: bool = True,
                       layer_decay: float | None = None):
    """The same fine-tuning with ``transformers.Trainer``: evaluation on the held-out slice, early stopping,
    best checkpoint restored, mixed precision only on CUDA; batches grouped by length as in :func:`train_loop`
    (``group_by_length=False``: shuffled batches). With ``layer_decay`` the Trainer gets :func:`train_loop`'s
    optimizer (:func:`adamw`) and its own schedule."""
    import inspect

    import datasets
    import torch
    import transformers as tf

    train_ds = tokenized_dataset(texts, labels, tokenizer, max_length=max_length)
    held_ds = tokenized_dataset(heldout_texts, heldout_labels, tokenizer, max_length=max_length)

    def metrics(pred):
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        return {"accuracy": 100 * float((logits.argmax(-1) == pred.label_ids).mean())}

    cuda = torch.cuda.is_available()

    # like train_loop: batches of similar length, little padding (transformers >= 5 names it a sampling strategy)
    if not group_by_length:
        grouping = {}
    elif "train_sampling_strategy" in inspect.signature(tf.TrainingArguments).parameters:
        grouping = {"train_sampling_strategy": "group_by_length"}
    else:
        grouping = {"group_by_length": True}
    args = tf.TrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, learning_rate=lr, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64, eval_strategy="steps", eval_steps=eval_steps, save_strategy="steps",
        save_steps=eval_steps, save_total_limit=1, load_best_model_at_end=True, metric_for_best_model="accuracy",
        warmup_steps=0.1, weight_decay=0.01, seed=seed, report_to=[], logging_steps=eval_steps,
        **grouping,
        bf16=cuda and real_bf16(), fp16=cuda and not real_bf16(),
        disable_tqdm=True, use_cpu=not cuda)
    optimizers = (adamw(model, lr, layer_decay), None) if layer_decay is not None else (None, None)
    trainer = tf.Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=held_ds, optimizers=optimizers,
                         data_collator=tf.DataCollatorWithPadding(tokenizer), compute_metrics=metrics,
                         callbacks=[tf.EarlyStoppingCallback(early_stopping_patience=patience)])
    trainer.remove_callback(tf.PrinterCallback)  # no raw log dicts in the notebook (disable_tqdm adds it)
    trainer.train()
    model.eval()
    return trainer


def checkpoint_dir(profile: str, size: str) -> Path:
    """Where Level 4 saves its fine-tuned model and Level 5 looks for it: ``<cache>/finetuned/<profile>-<size>``."""
    from textclass.config import cache_dir

    return cache_dir() / "finetuned" / f"{profile}-{size}"


FEED_FORWARD_SAMPLE = 2048  # phrases on which a student's feed-forward neurons are measured before narrowing
                            # (scripts/distil_student.py --ffn, Level 5's student_ffn)


def feed_forward_importance(model, tokenizer, texts, *, batch_size: int = 64, max_length: int = 64) -> list:
    """How much each feed-forward neuron of each transformer layer of ``model.encoder`` contributes on ``texts``:
    the mean absolute value of its activation (after the nonlinearity, over the sentences' real tokens) times the
    length of its column in the layer's output projection. One tensor per layer (BERT-style layers: ``intermediate``
    then ``output.dense``, as MPNet, BERT and MiniLM have). Batched as the course's inference
    (:func:`textclass.evaluate.tokenized_batches`)."""
    import torch

    from textclass.evaluate import tokenized_batches

    layers = model.encoder.encoder.layer
    device = layers[0].intermediate.dense.weight.device
    sums = [torch.zeros(layer.intermediate.dense.out_features) for layer in layers]
    state = {"mask": None, "tokens": 0}

    def hook(i):
        def record(module, inputs, output):
            sums[i] += (output.detach().abs() * state["mask"]).sum(dim=(0, 1)).float().cpu()
        return record

    handles = [layer.intermediate.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for _, enc in tokenized_batches(tokenizer, list(texts), batch_size, max_length=max_length):
                enc = enc.to(device)
                state["mask"] = enc["attention_mask"].unsqueeze(-1).float()
                state["tokens"] += int(enc["attention_mask"].sum())
                model.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return [total / max(state["tokens"], 1) * layer.output.dense.weight.detach().float().norm(dim=0)
            for total, layer in zip(sums, layers)]


def narrow_feed_forward(encoder, keep: int, importance) -> list:
    """Keep the ``keep`` most important feed-forward neurons of every transformer layer of ``encoder`` (rows of the
    intermediate projection, columns of the output one; ``importance`` from :func:`feed_forward_importance`) and
    drop the rest: a narrower, faster encoder whose ``config.intermediate_size`` says so (it saves and loads as
    any other). A neuron whose output column is zero changes nothing when dropped. Returns the kept indices per layer."""
    import torch

    layers = encoder.encoder.layer
    width = layers[0].intermediate.dense.out_features
    if not 1 <= keep <= width:
        raise ValueError(f"keep must be between 1 and the layers' {width} feed-forward neurons, got {keep}")
    if len(importance) != len(layers):
        raise ValueError(f"importance has {len(importance)} layers, the encoder {len(layers)}")
    if any(len(score) != width for score in importance):
        raise ValueError(f"importance needs one score per feed-forward neuron ({width}) in every layer")
    kept = []
    for layer, score in zip(layers, importance):
        inner, outer = layer.intermediate.dense, layer.output.dense
        idx = torch.sort(torch.topk(torch.as_tensor(score, dtype=torch.float32), keep).indices).values
        idx = idx.to(inner.weight.device)
        narrow_in = torch.nn.Linear(inner.in_features, keep, dtype=inner.weight.dtype, device=inner.weight.device)
        narrow_out = torch.nn.Linear(keep, outer.out_features, dtype=outer.weight.dtype, device=outer.weight.device)
        with torch.no_grad():
            narrow_in.weight.copy_(inner.weight[idx])
            narrow_in.bias.copy_(inner.bias[idx])
            narrow_out.weight.copy_(outer.weight[:, idx])
            narrow_out.bias.copy_(outer.bias)
        layer.intermediate.dense, layer.output.dense = narrow_in, narrow_out
        kept.append(idx.tolist())
    encoder.config.intermediate_size = keep
    return kept


def save_finetuned(model, tokenizer, directory, info: dict | None = None) -> Path:
    """Save a :class:`PooledClassifier` (encoder + tokenizer with ``save_pretrained``, the head, ``info.json``).

    Written to a temporary folder first and then renamed, so an interrupted save never leaves half a model."""
    import json
    import shutil

    import torch

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "encoder").mkdir(parents=True)
    model.encoder.save_pretrained(tmp / "encoder")
    tokenizer.save_pretrained(tmp / "encoder")
    torch.save({k: v.detach().cpu() for k, v in model.head.state_dict().items()}, tmp / "head.pt")
    meta = {"num_labels": model.head.out_features, "layers": model.encoder.config.num_hidden_layers, **(info or {})}
    (tmp / "info.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def load_finetuned(directory):
    """``(model, tokenizer, info)`` saved by :func:`save_finetuned`; a clear error when there is none."""
    import json

    import torch
    import transformers as tf

    from textclass.config import ResourceError

    directory = Path(directory)
    if not (directory / "info.json").exists():
        raise ResourceError(f"no fine-tuned model in {directory}: run Level 4 first "
                            f"(./course run finetune --size full), or pass the folder it saved to")
    info = json.loads((directory / "info.json").read_text(encoding="utf-8"))
    encoder = tf.AutoModel.from_pretrained(directory / "encoder")
    tokenizer = tf.AutoTokenizer.from_pretrained(directory / "encoder")
    model = _module()(encoder, num_labels=info["num_labels"])
    model.head.load_state_dict(torch.load(directory / "head.pt", weights_only=True))
    return model.eval(), tokenizer, info


# ---------------------------------------------------------------------------- evaluation sentences stay out
def normalize_text(text: str) -> str:
    """Lower case, ``-lrb-``/``-rrb-`` as brackets, every character that is not a letter or digit dropped: the
    form in which "does n't" (SST-2's tokenisation) and "doesn't" (rotten_tomatoes') compare equal."""
    import re

    text = text.lower().replace("-lrb-", "(").replace("-rrb-", ")")
    return re.sub(r"[^a-z0-9]+", "", text)


def evaluation_sentences(profile: str | None = None, data_dir=None) -> list[str]:
    """SST-2 validation and test sentences, normalised (:func:`normalize_text`): what no training or augmentation
    pool may contain."""
    from textclass import data

    out = []
    for split in ("validation", "test"):
        out += [normalize_text(s) for s in data.load_sst2(split, profile=profile, data_dir=data_dir)["sentence"]]
    return out


def outside_evaluation(texts, evaluation: list[str], *, min_chars: int = 20, fragments: bool = True) -> np.ndarray:
    """Boolean mask over ``texts``: True where the text is not an evaluation sentence -- neither equal to one
    after normalisation, nor containing one, nor (with ``fragments``) contained in one. Containment is tested
    for texts and sentences of at least ``min_chars`` normalised characters; shorter phrases such as "good" are
    only compared for equality. SST-2 train is a bank of phrases cut from its own sentences, so a short train
    phrase that also occurs inside a test sentence is a coincidence (``fragments=False`` keeps it); an
    augmentation pool sentence that is part of a test sentence is a leak."""
    exact = set(evaluation)
    by_prefix: dict[str, list[str]] = {}
    for e in evaluation:
        if len(e) >= min_chars:
            by_prefix.setdefault(e[:min_chars], []).append(e)
    joined = "\n".join(evaluation)

    def contains_one(n):
        return any(e in n for i in range(len(n) - min_chars + 1) for e in by_prefix.get(n[i:i + min_chars], ()))

    keep = []
    for t in texts:
        n = normalize_text(t)
        bad = n in exact or (len(n) >= min_chars and ((fragments and n in joined) or contains_one(n)))
        keep.append(not bad)
    return np.array(keep, dtype=bool)


def augmentation_pool(profile: str | None = None, data_dir=None, *, limit: int | None = None, seed: int = 0,
                      evaluation: list[str] | None = None) -> list[str]:
    """Unlabelled in-domain sentences for paraphrase mining: rotten_tomatoes (validation and test texts, the
    splits available offline; their labels are never read), deduplicated, with every sentence that is -- or
    contains, or is part of -- an SST-2 validation or test sentence removed. A random ``limit`` of them."""
    from textclass import data

    texts = []
    for split in ("validation", "test"):
        texts += list(data.load_split("rotten_tomatoes", split, profile=profile, data_dir=data_dir)["text"])
    texts = list(dict.fromkeys(texts))
    if evaluation is None:
        evaluation = evaluation_sentences(profile, data_dir)
    texts = [t for t, k in zip(texts, outside_evaluation(texts, evaluation)) if k]
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[:limit]]


def heldout_sentences_split(train_sentences, heldout: int, *, seed: int = 0, min_chars: int = 20):
    """A held-out slice of SST-2 train cut by *sentence*, not by phrase. SST-2 train holds every phrase of its
    sentences, so a random phrase slice (:func:`heldout_split`) is mostly parts of phrases the model trains on,
    and its accuracy flatters models that trained on more of train. Here whole sentences are held out: in a
    seeded random order, rows that are not part of any longer row (a sentence, not one of its phrases) are taken
    with every row contained in them, until ``heldout`` rows are held out. Rows of at least ``min_chars``
    normalised characters that are part of a held-out sentence and also of a training row are dropped from both
    sides (shared fragments). Shorter rows ("good", "the film") are too common to attribute and stay in train
    unless they are a held-out sentence themselves. Returns ``(train, held-out)`` row indices (sorted); the
    shared fragments are in neither."""
    norm = [normalize_text(t) for t in train_sentences]
    joined = "\n".join(norm)
    rows_of: dict[str, list[int]] = {}
    for i, t in enumerate(norm):
        rows_of.setdefault(t, []).append(i)
    # the long rows by their first min_chars characters: a long row is inside a text only where the text holds
    # those characters, so each substring test below looks at the few rows that start like a piece of the text
    by_start: dict[str, list[int]] = {}
    for i, t in enumerate(norm):
        if len(t) >= min_chars:
            by_start.setdefault(t[:min_chars], []).append(i)

    def long_rows_inside(text: str) -> list[int]:
        """The rows of at least min_chars characters that are substrings of ``text`` (``norm[j] in text``)."""
        return [j for a in range(len(text) - min_chars + 1) for j in by_start.get(text[a:a + min_chars], ())
                if text.startswith(norm[j], a)]

    held: set[int] = set()
    for i in np.random.default_rng(seed).permutation(len(norm)):
        t = norm[i]
        if i in held or len(t) < min_chars or joined.count(t) != len(rows_of[t]):
            continue                        # taken already, too short to attribute, or part of a longer row
        held.update(long_rows_inside(t))
        held.update(rows_of[t])
        if len(held) >= heldout:
            break
    rest = [i for i in range(len(norm)) if i not in held]
    train_text = "\n".join(norm[i] for i in rest)
    # a long training row inside a held-out sentence, or a held-out row inside a training row: shared, dropped
    dropped = {j for i in held for j in long_rows_inside(norm[i]) if j not in held}
    dropped |= {i for i in held if norm[i] in train_text}
    train = np.array(sorted(set(rest) - dropped), dtype=int)
    held_out = np.array(sorted(held - dropped), dtype=int)
    return train, held_out


def split_seed_of(info: dict, default: int = 0) -> int:
    """The seed a saved model or artifact cut its held-out slice with, from its ``info`` (Level 4's ``info.json``,
    the teacher's provenance): ``split_seed``, else ``seed`` (saved before ``split_seed`` existed, when one seed did
    both), else ``default``. Level 5 and ``scripts/distil_student.py`` recut that slice with it, so that nothing
    the saved model trained on is held out."""
    return int(info.get("split_seed", info.get("seed", default)))


def train_heldout_rows(train_sentences, heldout: int, *, evaluation: list[str], seed: int = 0,
                       by_sentence: bool = False):
    """Levels 4 and 5's split of SST-2 train: :func:`heldout_split` (or, with ``by_sentence``,
    :func:`heldout_sentences_split`), then every row that is an SST-2 validation or test sentence
    (:func:`outside_evaluation`, ``fragments=False``) dropped from both sides. Returns the row indices (train,
    held-out) and how many rows were dropped as evaluation sentences."""
    if by_sentence:
        train_idx, held_idx = heldout_sentences_split(train_sentences, heldout, seed=seed)
    else:
        train_idx, held_idx = heldout_split(len(train_sentences), heldout, seed=seed)
    keep = outside_evaluation(list(train_sentences), evaluation, fragments=False)
    return train_idx[keep[train_idx]], held_idx[keep[held_idx]], int((~keep).sum())


class TeacherLabels:
    """A fine-tuned teacher's soft labels, as Level 4's ``soft_labels_out`` writes them (e.g.
    ``results/teacher-mpnet.npz``), read by :func:`load_teacher_labels`: ``path``; ``provenance`` (the model, its
    validation accuracy, the held-out slice it kept out, its split seed); ``by_row`` (SST-2 train row -> the teacher's
    probabilities, float32); ``validation_probs`` and ``test_probs`` (the teacher's probabilities on SST-2 validation
    and test, None in an artifact without them)."""

    def __init__(self, path: Path, provenance: dict, by_row: dict, validation_probs=None, test_probs=None):
        self.path, self.provenance, self.by_row = path, provenance, by_row
        self.validation_probs, self.test_probs = validation_probs, test_probs

    def holds_out(self, heldout_rows) -> bool:
        """Whether ``heldout_rows`` are exactly the rows the teacher kept out of its training."""
        return sorted(int(r) for r in heldout_rows) == sorted(int(r) for r in self.provenance["heldout_rows"])


def load_teacher_labels(path) -> TeacherLabels:
    """The teacher's soft labels at ``path`` (see :class:`TeacherLabels`); Level 4's ``teacher_labels``, Level 5's
    teacher and ``scripts/distil_student.py`` all read them here. A missing file raises FileNotFoundError saying
    how to make one; a file with no labelled rows, ValueError."""
    import json

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no teacher soft labels at {path}: run Level 4 with the MPNet teacher's "
                                "parameters and soft_labels_out first (book/finetune.md, Level 5's teacher), or set "
                                "teacher_labels (Level 4), teacher_soft_labels (Level 5) or --teacher (the script) to "
                                "an existing teacher-*.npz (the checkout ships results/teacher-mpnet.npz)")
    with np.load(path, allow_pickle=False) as saved:
        if len(saved["rows"]) == 0:
            raise ValueError(f"{path} holds no labelled rows: write it again with Level 4's soft_labels_out")
        extra = {k: saved[k].astype(np.float32) if k in saved.files else None
                 for k in ("validation_probs", "test_probs")}
        return TeacherLabels(path, json.loads(str(saved["provenance"])),
                             dict(zip((int(r) for r in saved["rows"]), saved["probs"].astype(np.float32))), **extra)


def teacher_targets(path, labels, train_rows, heldout_rows, *, weight: float = 0.5) -> tuple[np.ndarray, dict]:
    """Training targets from a fine-tuned teacher (Level 4's ``soft_labels_out`` artifact, e.g.
    ``results/teacher-mpnet.npz``): for each training row, ``(1 - weight)`` times its one-hot label plus ``weight``
    times the teacher's probabilities (``weight=1``: the teacher's alone). Rows the teacher did not label keep
    their one-hot label. ``torch.nn.functional.cross_entropy`` takes such rows of probabilities as targets, so
    Level 4's training step runs unchanged. The held-out rows must be the teacher's own (the slice its
    provenance lists), so that nothing the teacher trained on is held out. ``labels`` are the class indices of
    ``train_rows`` (rows of SST-2 train). Returns ``(targets, info)``: float32 rows, one per training row, and
    what was used (the artifact, the teacher's validation accuracy, the weight, how many rows it labelled)."""
    if not 0.0 < float(weight) <= 1.0:
        raise ValueError(f"teacher_weight={weight!r}: the teacher's share of each target must lie in (0, 1] "
                         "(0.5 mixes label and teacher equally; 1 uses the teacher's probabilities alone); "
                         "for the labels alone, set teacher_labels = None")
    teacher = load_teacher_labels(path)
    provenance = teacher.provenance
    if not teacher.holds_out(heldout_rows):
        raise ValueError(
            f"the held-out slice differs from the one {teacher.path.name} was made with: set heldout_size = "
            f"{provenance['heldout_size']}, heldout_by_sentence = {provenance['heldout_by_sentence']} and "
            f"split_seed = {split_seed_of(provenance)} (the teacher's), so that no row the teacher trained on is held out")
    classes = len(next(iter(teacher.by_row.values())))
    labels = np.asarray(labels, dtype=int)
    targets = np.eye(classes, dtype=np.float32)[labels]
    have = np.array([int(r) in teacher.by_row for r in train_rows], dtype=bool)
    probs = np.array([teacher.by_row[int(r)] for r in np.asarray(train_rows)[have]], np.float32).reshape(-1, classes)
    probs = probs / probs.sum(1, keepdims=True)  # float16 rows, summed again to 1
    targets[have] = (1.0 - float(weight)) * targets[have] + float(weight) * probs
    info = {"artifact": teacher.path.name, "teacher": provenance.get("model"),
            "teacher_validation_accuracy": provenance.get("sst2_validation_accuracy"), "weight": float(weight),
            "rows_labelled": int(have.sum()), "rows": int(len(have))}
    return targets, info
