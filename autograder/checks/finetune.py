"""Checks for the Fine-tuning level (solutions/finetune/finetune.ipynb): the training step, padding arithmetic
and the choice of hyperparameters on the held-out slice. Reference implementations live here, not in textclass."""
from __future__ import annotations

import traceback

import numpy as np

from autograder.checks import run_in_harness, safe_call, secret_rng
# equal by value (same): through the trusted grader identity never holds
from autograder.checks._plain import as_float, brief, hidden_detail, note_raised, same, scored, short
from autograder.harnesses import finetune as harnesses


# ------------------------------------------------------------------------------------------- references
def reference_train_step(model, batch, optimizer, scheduler):
    """forward, cross-entropy, zero_grad, backward, optimizer step, scheduler step; returns the loss."""
    import torch

    logits = model(batch["input_ids"], batch["attention_mask"])
    loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    return float(loss.detach())


def reference_count_padding(lengths, batch_size, max_length, sort_by_length=False):
    """Pad tokens when ``lengths`` (tokens per sentence, special tokens included) are truncated at
    ``max_length`` and batched ``batch_size`` at a time (shortest first when ``sort_by_length``), each batch
    padded to its longest sentence."""
    lengths = [min(int(n), int(max_length)) for n in lengths]
    if sort_by_length:
        lengths = sorted(lengths)
    pads = 0
    for i in range(0, len(lengths), int(batch_size)):
        chunk = lengths[i:i + int(batch_size)]
        pads += max(chunk) * len(chunk) - sum(chunk)
    return pads


# ------------------------------------------------------------------------------------------- train_step
def _close(a, b, tol=1e-4):
    try:
        return a is not None and b is not None and len(a) == len(b) and all(
            x is not None and y is not None and abs(float(x) - float(y)) <= tol * max(1.0, abs(float(y)))
            for x, y in zip(a, b))
    except (TypeError, ValueError):
        return False


@scored("one training step (train_step)")
def check_train_step(r, train_step) -> None:
    seeds = [0, int(secret_rng("check_train_step").integers(1, 10**6))]
    runs = []
    for seed in seeds:
        try:
            got = run_in_harness(train_step, harnesses.train_step_run, seed=seed)
            if not isinstance(got, dict):
                raise TypeError(f"the harness returned {type(got).__name__}")
        except Exception as exc:  # noqa: BLE001 -- a broken proxy or harness costs the points, never raises
            r.add("the training step runs", False, 10, f"raised {type(exc).__name__}: {exc}",
                  detail=f"on the hidden batches (seed {seed})" if seed != seeds[0] else "")
            return
        runs.append((got, harnesses.train_step_run(reference_train_step, seed=seed)))
    got, want = runs[0]
    if got.get("errors"):
        r.add("the training step runs", False, 10, got["errors"][0])
        return
    loss_ok = _close(got["losses"][:1], want["losses"][:1])
    if got["losses"][0] is None:
        why = (f"the first call returned {(got.get('returned') or ['?'])[0]}: return this batch's loss, e.g. "
               "float(loss) (a one-element tensor works too)")
    else:
        why = (f"first call returned {short(got['losses'][0])}, expected {want['losses'][0]:.5f}: the cross-entropy of the "
               "model's logits and the batch's labels, before the update (the later parts compare weights, which "
               "follow from this loss: fix it first)")
    r.add("returns the batch's cross-entropy loss (before the update)", loss_ok, 2, why)
    got_fp, want_fp = got.get("fingerprints") or [], want["fingerprints"]
    r.add("updates the weights: backward, then optimizer.step()",
          len(got_fp) > 0 and _close(got_fp[0], want_fp[0]), 3,
          "after one call the weights should have taken one optimizer step on this batch's loss gradient")
    r.add("advances the learning-rate schedule once per step (scheduler.step())", _close(got["lrs"], want["lrs"], 1e-9), 2,
          f"learning rates after each call {got['lrs']}, expected {want['lrs']}")
    matches = all(_close(g["weights"], w["weights"]) for g, w in runs)

    def which():   # the hidden batches' run (the public one's only when the hidden one matches): where it differs
        public, (g, w) = runs
        public_ok = _close(public[0]["weights"], public[1]["weights"])
        if _close(g["weights"], w["weights"]):
            (g, w), head = public, f"the hidden batches (seed {seeds[1]}) match; the public ones (seed 0) do not"
        else:
            head = f"hidden batches (seed {seeds[1]}){'' if public_ok else ', and the public ones too'}"
        gw, ww = g.get("weights") or [], w["weights"]
        i = next((i for i, (x, y) in enumerate(zip(gw, ww)) if not _close([x], [y])), min(len(gw), len(ww)))
        return (f"{head}: after 4 steps {len(gw)} weights (expected {len(ww)}); first difference at weight {i}: got "
                f"{brief(gw[i] if i < len(gw) else None)}, expected {brief(ww[i] if i < len(ww) else None)}; "
                f"losses returned {brief(g.get('losses'))}, expected {brief(w['losses'])}")

    r.add("gradients are cleared every step (zero_grad) and the weights match the reference after 4 steps, on the "
          "public batches and on hidden ones", matches, 3,
          "without optimizer.zero_grad() the gradients of earlier batches accumulate into later steps",
          detail=hidden_detail(which) if not matches else "")


# ------------------------------------------------------------------------------------------ padding
# the last one ends on a batch of two unequal sentences, in order and sorted: a smaller last batch still pads
_PAD_CASES = [([5, 12, 7, 30, 9, 9, 40, 3], 3, 16), ([10, 10, 10, 10], 2, 64), ([4, 70, 8, 66, 5], 2, 64),
              ([6, 30, 11, 4, 25, 17, 8, 21], 3, 64)]


@scored("padding tokens, random vs length-sorted batches (count_padding)")
def check_count_padding(r, count_padding) -> None:
    rng = secret_rng("check_count_padding")
    cases = list(_PAD_CASES) + [([int(x) for x in rng.integers(3, 90, int(rng.integers(20, 40)))],
                                 int(rng.integers(3, 9)), int(rng.integers(24, 64)))]
    plan = [(c, s) for c in cases for s in (False, True)]
    points = 10 / len(plan)
    for (lengths, bs, ml), sort in plan:
        hidden = (lengths, bs, ml) == cases[-1]
        desc = (("hidden case: " if hidden else "")
                + f"{len(lengths)} sentences, batch {bs}, max_length {ml}, {'length-sorted' if sort else 'in order'}")
        want = reference_count_padding(lengths, bs, ml, sort)
        inputs = (lambda: f"count_padding(lengths, {bs}, {ml}, {sort}) with lengths={brief(lengths, 40)}"
                             ) if hidden else ""
        ok, out = safe_call(r, desc, points, count_padding, list(lengths), bs, ml, sort)
        if not ok:
            note_raised(r, desc, inputs)
            continue
        got = as_float(out)   # None for anything that is not one number (a bool, a string, 10**400, an object)
        good = got is not None and got == want
        hint = ""
        if not good and got is not None:
            if got == reference_count_padding(lengths, bs, 10**9, sort):
                hint = " -- truncate each sentence at max_length first"
            elif got == sum(min(n, ml) for n in lengths) + want:
                hint = " -- count the pad tokens, not all tokens"
        r.add(desc, good, points, f"got {short(out)}, expected {want}{hint}",
              detail=hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; expected {want}") if hidden else "")


# --------------------------------------------------------------------------------------- choose_by_heldout
# Hyperparameter runs as the notebook produces them: the held-out slice of *train* picks, validation only reports.
_RUNS = [
    {"config": {"lr": 2e-5, "epochs": 1}, "heldout_accuracy": 84.0, "validation_accuracy": 86.1},
    {"config": {"lr": 5e-5, "epochs": 1}, "heldout_accuracy": 86.5, "validation_accuracy": 85.2},
    {"config": {"lr": 1e-4, "epochs": 1}, "heldout_accuracy": 81.0, "validation_accuracy": 87.0},
]
_TIED = [
    {"config": {"lr": 3e-5}, "heldout_accuracy": 88.0, "validation_accuracy": 84.0},
    {"config": {"lr": 5e-5}, "heldout_accuracy": 88.0, "validation_accuracy": 89.0},
    {"config": {"lr": 1e-4}, "heldout_accuracy": 80.0, "validation_accuracy": 90.0},
]


@scored("choosing hyperparameters on the held-out slice (choose_by_heldout)")
def check_choose_by_heldout(r, choose_by_heldout) -> None:
    ok, out = safe_call(r, "picks the run with the best held-out accuracy", 4, choose_by_heldout, [dict(x) for x in _RUNS])
    if ok:
        r.add("picks the run with the best held-out accuracy", same(out, _RUNS[1]), 4,
              f"got {short(out)}; the held-out slice of train decides (lr 5e-5), never validation"
              + (" -- you chose by validation accuracy: that tunes on the test set" if same(out, _RUNS[2]) else ""))
    ok, out = safe_call(r, "on a held-out tie keeps the earliest run (and ignores validation)", 3,
                        choose_by_heldout, [dict(x) for x in _TIED])
    if ok:
        r.add("on a held-out tie keeps the earliest run (and ignores validation)", same(out, _TIED[0]), 3,
              f"got {short(out)}; ties go to the first run in the list, whatever its validation accuracy")
    rng = secret_rng("check_choose_by_heldout")   # runs no answer table knows: a few, held-out ties likely
    runs = [{"config": {"lr": float(lr), "epochs": int(rng.integers(1, 4))},
             "heldout_accuracy": float(rng.choice([85.0, 86.5, 88.0, 88.5])),
             "validation_accuracy": float(np.round(rng.uniform(80, 92), 1))}
            for lr in rng.choice([1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4], int(rng.integers(3, 6)), replace=False)]
    want = max(runs, key=lambda run: run["heldout_accuracy"])   # max keeps the first of equals
    desc = f"hidden case: picks the best of {len(runs)} runs by held-out accuracy, the earliest of a tie"
    inputs = (lambda: "runs as (lr, epochs, heldout, validation): " + ", ".join(
        f"({run['config']['lr']:g}, {run['config']['epochs']}, {run['heldout_accuracy']:g}, "
        f"{run['validation_accuracy']:g})" for run in runs))
    ok, out = safe_call(r, desc, 1, choose_by_heldout, [dict(x) for x in runs])
    if ok:
        r.add(desc, same(out, want), 1, f"got {short(out)}, expected {want}",
              detail=hidden_detail(lambda: f"{inputs()}; returned {brief(out)}; expected run {runs.index(want)}: {want}"))
    else:
        note_raised(r, desc, inputs)
    try:
        choose_by_heldout([])
        r.add("an empty list raises ValueError", False, 2, "raise ValueError when there are no runs")
    except ValueError:
        r.add("an empty list raises ValueError", True, 2)
    except Exception as exc:  # noqa: BLE001 -- (through the grader's proxy a learner's ValueError is one too)
        said = traceback.format_exception_only(type(exc), exc)[-1].strip()
        r.add("an empty list raises ValueError", False, 2, f"raised {said}, expected ValueError")


__all__ = ["check_train_step", "check_count_padding", "check_choose_by_heldout", "reference_train_step",
           "reference_count_padding"]
