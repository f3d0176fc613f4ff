"""Model soups of Level 4's fine-tuned models: the weights of several runs averaged into one model.

    python scripts/finetune_soup.py RUN RUN [RUN ...] [--name soup] [--limit N] [--threads 2] [--results-dir DIR]

RUN: a Level 4 checkpoint in the course cache, by its folder name (``offline-full-3epochs-lr3e-5``: the
notebook's ``-p run_name=...``) or path. A soup (Wortsman et al., 2022, "Model soups") averages the weights of
models fine-tuned from the same starting weights; it costs nothing at inference, unlike an ensemble, which runs
every member. The runs must share the encoder, the seed and the held-out slice (``seed``, ``split_seed``,
``heldout_size``, ``heldout_by_sentence`` in their ``info.json``, and, where it names them, ``max_length``,
``probe_first`` and ``grid_limit``; exit 2 otherwise); runs of the notebook with one learning rate each and the
same ``grid_limit`` also start from the same head, and so do runs with ``probe_first``, whose head is the probe's.
Every model is scored at the runs' ``max_length`` (64 for a checkpoint saved before it was recorded). Every uniform soup of two or more
runs is scored, and the greedy soup, which the held-out slice chooses: the runs in order of held-out accuracy,
each one kept when the soup's held-out accuracy does not drop. The record
(``results/finetune-<profile>-<size>-<name>.json``) holds every model's held-out and validation accuracy with
its predictions on both (the held-out rows by their index in SST-2 train), so each accuracy re-scores. ``--limit N`` scores the first N validation sentences and
a held-out slice of at most N (size ``small``: a plumbing check).
"""
from __future__ import annotations

import argparse
import itertools
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from textclass.config import RESULTS_DIR_HELP  # noqa: E402 -- light: os and pathlib only

SHARED = ("encoder", "seed", "split_seed", "heldout_size", "heldout_by_sentence")   # what every run must share
# ... and these where the checkpoint names them (info.json holds them since they were added); the value a
# checkpoint that predates them had (None: unknown, not compared)
RECORDED_LATER = {"max_length": 64, "probe_first": False, "grid_limit": None}


def average(models):
    """A copy of the first model with every floating-point weight the mean of the models' weights."""
    import copy

    soup = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    merged = {k: sum(s[k] for s in states) / len(states) if v.is_floating_point() else v
              for k, v in states[0].items()}
    soup.load_state_dict(merged)
    return soup.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="RUN", help="Level 4 checkpoints: cache folder names or paths")
    ap.add_argument("--name", default="soup", help="the record's suffix (default soup)")
    ap.add_argument("--profile", default="auto", help="online, offline or auto (as the notebooks)")
    ap.add_argument("--limit", type=int, default=None, help="score N validation sentences only (a plumbing check)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--results-dir", default=None, help=RESULTS_DIR_HELP)
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        print(f"error: --limit {args.limit}: score at least one sentence (or leave it out: all)", file=sys.stderr)
        return 2

    import numpy as np
    import torch

    from textclass import config, data, results
    from textclass import finetune as ft

    import transformers

    transformers.utils.logging.disable_progress_bar()   # no "Loading weights" bar per model
    torch.set_num_threads(args.threads)
    profile = config.resolve_profile(args.profile)
    size = "small" if args.limit else "full"
    start = time.perf_counter()
    folders = [(Path(r) if os.sep in r else ft.checkpoint_dir(profile, "full").with_name(r)).resolve()
               for r in args.runs]
    if len(set(folders)) < 2 or len(set(folders)) < len(folders):
        print("error: a soup needs two or more different runs, each named once", file=sys.stderr)
        return 2
    models, infos = {}, {}
    for name, folder in zip(args.runs, folders):
        try:
            models[name], tokenizer, infos[name] = ft.load_finetuned(folder)
        except config.ResourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for name in args.runs:
        missing = [k for k in SHARED if k not in ("split_seed", "seed") and infos[name].get(k) is None]
        if missing:
            print(f"error: {name}: its info.json lacks {', '.join(missing)}; make it again with the Level 4 notebook",
                  file=sys.stderr)
            return 2
    first = infos[args.runs[0]]

    def shared(info):   # split_seed_of: a checkpoint saved before split_seed existed cut its slice with its seed
        return {k: ft.split_seed_of(info) if k == "split_seed" else info.get(k) for k in SHARED}

    def later(info, key):
        return info.get(key, RECORDED_LATER[key])

    for name in args.runs[1:]:
        differ = [k for k in SHARED if shared(infos[name])[k] != shared(first)[k]]
        differ += [k for k in RECORDED_LATER if None not in (later(infos[name], k), later(first, k))
                   and later(infos[name], k) != later(first, k)]
        if differ:
            print(f"error: {name} and {args.runs[0]} differ in {', '.join(differ)}: a soup averages runs that "
                  "started from the same weights and held out the same slice", file=sys.stderr)
            return 2

    train = data.load_sst2("train", profile=profile)
    validation = data.load_sst2("validation", profile=profile, limit=args.limit)
    texts, labels = list(train["sentence"]), np.array(train["label"])
    _, held_idx, _ = ft.train_heldout_rows(texts, first["heldout_size"], seed=ft.split_seed_of(first),
                                           by_sentence=first["heldout_by_sentence"],
                                           evaluation=ft.evaluation_sentences(profile))
    held_idx = held_idx[:args.limit] if args.limit else held_idx
    held_texts, held_labels = [texts[i] for i in held_idx], labels[held_idx]
    val_texts, val_labels = list(validation["sentence"]), np.array(validation["label"])

    max_length = later(first, "max_length")

    def score(model):
        """(held-out accuracy, held-out predictions, validation predictions)"""
        held = ft.predict_proba(model, tokenizer, held_texts, max_length=max_length).argmax(1)
        return (100 * float((held == held_labels).mean()), held,
                ft.predict_proba(model, tokenizer, val_texts, max_length=max_length).argmax(1))

    scored = {}   # key -> (label, held-out accuracy, held-out predictions, validation predictions)
    for i, name in enumerate(args.runs):
        scored[f"run{i + 1}"] = (name, *score(models[name]))
    for r in range(2, len(args.runs) + 1):
        for combo in itertools.combinations(range(len(args.runs)), r):
            label = " + ".join(args.runs[i] for i in combo)
            scored["soup" + "".join(str(i + 1) for i in combo)] = (
                f"uniform soup of {label}", *score(average([models[args.runs[i]] for i in combo])))
    order = sorted(range(len(args.runs)), key=lambda i: -scored[f"run{i + 1}"][1])   # stable: ties keep the order
    greedy, best = [order[0]], scored[f"run{order[0] + 1}"][1]
    for i in order[1:]:
        key = "soup" + "".join(str(j + 1) for j in sorted(greedy + [i]))
        if scored[key][1] >= best:
            greedy, best = sorted(greedy + [i]), scored[key][1]
    chosen = ("soup" + "".join(str(j + 1) for j in greedy)) if len(greedy) > 1 else f"run{greedy[0] + 1}"

    metrics, predictions = {}, {}
    for key, (label, held, held_pred, pred) in scored.items():
        metrics[f"{key}_heldout_accuracy"] = held
        predictions[f"{key}_heldout_accuracy"] = {"dataset": "sst2", "split": "train", "indices": list(map(int, held_idx)),
                                                  "predictions": held_pred.tolist()}
        metrics[f"{key}_sst2_validation_accuracy"] = 100 * float((pred == val_labels).mean())
        predictions[f"{key}_sst2_validation_accuracy"] = {"dataset": "sst2", "split": "validation",
                                                          "predictions": pred.tolist()}
    metrics["greedy_soup_sst2_validation_accuracy"] = metrics[f"{chosen}_sst2_validation_accuracy"]
    predictions["greedy_soup_sst2_validation_accuracy"] = predictions[f"{chosen}_sst2_validation_accuracy"]
    os.environ.setdefault("TEXTCLASS_COMMAND", " ".join(shlex.quote(a) for a in
                                                        ["python", "scripts/finetune_soup.py", *sys.argv[1:]]))
    record = results.record(
        "finetune", f"{profile}-{size}-{args.name}", metrics, seconds=time.perf_counter() - start,
        directory=args.results_dir or config.results_dir(), predictions=predictions,
        details={"models": {key: label for key, (label, *_) in scored.items()}, "greedy_soup": chosen,
                 "runs": {name: {k: infos[name].get(k) for k in ("lr", "phrases_seen", *SHARED, *RECORDED_LATER)}
                          for name in args.runs},
                 "max_length": max_length,
                 "heldout_sentences": len(held_idx), "threads": args.threads})
    for key, (label, held, _, pred) in scored.items():
        print(f"{label}: held-out {held:.2f}%, validation {int((pred == val_labels).sum())}/{len(val_labels)} = "
              f"{100 * float((pred == val_labels).mean()):.2f}%")
    print(("PLUMBING CHECK, NOT A RESULT: " if args.limit else "")
          + f"the held-out slice's greedy soup: {scored[chosen][0]}, validation "
          f"{metrics['greedy_soup_sst2_validation_accuracy']:.2f}%; record {record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
