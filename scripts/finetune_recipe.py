"""The textbook fine-tuning recipe, for comparison with Level 4: what most tutorials run.

    python scripts/finetune_recipe.py [--limit N] [--lr 5e-5] [--threads 2] [--results-dir DIR]

``AutoModelForSequenceClassification`` (the BERT pooler head on the [CLS] token, not Level 4's mean pooling),
``transformers.Trainer`` with its defaults (lr 5e-5 decaying linearly to zero, no warm-up, no weight decay),
batches of 32 in shuffled order, one epoch over *every* SST-2 train row (no held-out slice, so nothing to stop
on), ``max_length`` 128 with dynamic padding, seed 0; then SST-2 validation, once. The record
(``results/finetune-<profile>-<size>-recipe.json``) carries the validation predictions, so the accuracy
re-scores like every other. ``--limit`` trains on the first N rows only (a plumbing check, size ``small``).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from textclass.config import RESULTS_DIR_HELP  # noqa: E402 -- light: os and pathlib only


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--profile", default="auto", help="online, offline or auto (as the notebooks)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N rows only (default: all)")
    ap.add_argument("--lr", type=float, default=5e-5, help="Trainer's default: 5e-5")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--results-dir", default=None, help=RESULTS_DIR_HELP)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import datasets
    import transformers as tf

    from textclass import config, data, finetune, models, results

    torch.set_num_threads(args.threads)
    profile = config.resolve_profile(args.profile)
    size = "small" if args.limit else "full"
    path = models.resolve_model(args.model, profile)
    tokenizer = tf.AutoTokenizer.from_pretrained(path)
    tf.logging.set_verbosity_error()  # the "newly initialized: classifier" notice is the point of a new head
    tf.set_seed(0)                    # the new head's initial weights too
    model = tf.AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    train = data.load_sst2("train", profile=profile)
    validation = data.load_sst2("validation", profile=profile)
    rows = len(train) if args.limit is None else min(args.limit, len(train))

    datasets.disable_progress_bars()
    train_ds = finetune.tokenized_dataset(list(train["sentence"])[:rows], list(train["label"])[:rows], tokenizer,
                                          max_length=128)
    val_ds = finetune.tokenized_dataset(validation["sentence"], validation["label"], tokenizer, max_length=128)
    cuda = torch.cuda.is_available()
    out_dir = REPO / "_build" / "recipe-trainer"
    targs = tf.TrainingArguments(output_dir=str(out_dir), num_train_epochs=1, learning_rate=args.lr,
                                 per_device_train_batch_size=32, per_device_eval_batch_size=64, seed=0,
                                 save_strategy="no", eval_strategy="no", report_to=[], logging_steps=200,
                                 disable_tqdm=True, use_cpu=not cuda)
    trainer = tf.Trainer(model=model, args=targs, train_dataset=train_ds,
                         data_collator=tf.DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(tf.PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    pred = trainer.predict(val_ds).predictions.argmax(-1)
    gold = np.array(validation["label"])
    correct = int((pred == gold).sum())
    acc = 100 * correct / len(gold)
    seconds = time.perf_counter() - start
    os.environ.setdefault("TEXTCLASS_COMMAND", " ".join(shlex.quote(a) for a in
                                                        ["python", "scripts/finetune_recipe.py", *sys.argv[1:]]))
    record = results.record(
        "finetune", f"{profile}-{size}-recipe",
        {"sst2_validation_accuracy": acc, "train_examples": rows, "train_seconds": train_seconds,
         "train_examples_per_second": rows / train_seconds},
        seconds=seconds, directory=args.results_dir or config.results_dir(),
        details={"recipe": "AutoModelForSequenceClassification (pooler head), Trainer defaults, batch 32, "
                           "1 epoch, all train rows, max_length 128, shuffled batches",
                 "encoder": args.model, "lr": args.lr, "threads": args.threads, "seed": 0},
        predictions={"sst2_validation_accuracy": {"dataset": "sst2", "split": "validation",
                                                  "predictions": pred.tolist()}})
    standin = getattr(model.config, "textclass_standin", False)
    print(("PLUMBING CHECK, NOT A RESULT: a tiny random stand-in. " if standin else
           f"PLUMBING CHECK, NOT A RESULT: {rows:,} rows only. " if args.limit else "")
          + f"SST-2 validation {correct}/{len(gold)} = {acc:.2f}% after {rows:,} rows, {train_seconds:.0f} s "
          f"({rows / train_seconds:.1f} rows/s); record {record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
