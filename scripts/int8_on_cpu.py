"""Score an int8 ONNX copy of Level 5's student on SST-2 validation, on this CPU or on an emulated one.

    python scripts/int8_on_cpu.py MODEL.onnx --name NAME [--cpu Haswell] [--batches N] [--against RECORD:KEY]

An int8 copy is a model of its CPU's arithmetic as well as of its weights: onnxruntime multiplies uint8 activations
by int8 weights exactly on a CPU with VNNI, and in a saturating 16-bit step on one with AVX2 (or AVX-512) and no
VNNI. ``--cpu MODEL`` runs the copy under Debian's qemu-user (``qemu-x86_64 -cpu MODEL``; Haswell is AVX2 without
VNNI), some 400 times slower than the CPU itself. The sentences are tokenized here and batched as Level 5 batches
them (64 at a time, shortest first, ``textclass.finetune.predict_proba``), so each prediction can be compared with
Level 5's record of the same copy; ``--batches N`` scores only the first N batches (the shortest sentences).

The record, ``results/improve-offline-full-int8-<NAME>-<cpu or native>.json`` (``--results-dir`` elsewhere), holds
the predictions, the instruction flags the copy saw (read inside the emulator), the weight bits of the file (7:
``reduce_range``, what ``textclass.onnx.quantize_int8`` makes; 8: the full int8 range) and the emulator's version;
with ``--against RECORD:KEY``, on how many of these sentences the copy predicts what that record's KEY predicted
(the same copy scored in Level 5's run on its own CPU). tests/test_submission_results.py checks that count.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from textclass.config import RESULTS_DIR_HELP  # noqa: E402 -- light: os and pathlib only

# the flags an int8 matrix product depends on, as numpy names them (read by the process that runs the copy)
INT8_FLAGS = ("AVX2", "AVX512BW", "AVX512VNNI", "AVXVNNI", "AVX512_SPR")


def cpu_flags() -> list[str]:
    """Which of :data:`INT8_FLAGS` numpy finds in this process (under qemu: the emulated CPU's)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return [f for f in INT8_FLAGS if features.get(f)]


def run_copy(model: str, batches: str, out: str, threads: int) -> None:
    """In the process that may be emulated: onnxruntime and numpy only, every batch of ``batches`` through ``model``."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    saved = np.load(batches)
    logits = [session.run(None, {"input_ids": saved[f"ids{b}"], "attention_mask": saved[f"mask{b}"]})[0]
              for b in range(int(saved["count"]))]
    np.savez(out, logits=np.concatenate(logits), flags=np.array(cpu_flags()))


def weight_bits(model: str) -> int:
    """7 when no int8 weight of the file leaves -64..64 (onnxruntime's ``reduce_range``), else 8."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    top = max((int(np.abs(numpy_helper.to_array(t).astype(np.int64)).max())
               for t in onnx.load(model).graph.initializer if t.data_type == onnx.TensorProto.INT8), default=0)
    return 7 if top <= 64 else 8


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an int8 ONNX classifier (input_ids, attention_mask -> logits)")
    ap.add_argument("--name", required=True, help="the record's name part, e.g. notebook-7bit")
    ap.add_argument("--cpu", default=None, help="a qemu CPU model to emulate, e.g. Haswell (default: this CPU)")
    ap.add_argument("--batches", type=int, default=0, help="score the first N batches of 64 only (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--against", default=None, metavar="RECORD:KEY",
                    help="a record (path) and its prediction key to compare with, e.g. "
                         "results/improve-offline-full.json:student_mpnet_6_distilled_int8_onnx_sst2_validation_accuracy")
    ap.add_argument("--results-dir", default=None, help=RESULTS_DIR_HELP)
    ap.add_argument("--child", nargs=2, metavar=("BATCHES", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        run_copy(args.model, *args.child, args.threads)
        return 0
    if not Path(args.model).is_file():
        print(f"error: {args.model} is not a file", file=sys.stderr)
        return 2
    against = None
    if args.against:
        record_path, _, key = args.against.rpartition(":")
        try:
            theirs = json.loads(Path(record_path).read_text(encoding="utf-8"))["predictions"][key]["predictions"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"error: --against {args.against}: no predictions under that key ({exc!r})", file=sys.stderr)
            return 2
    prefix, emulator = [], None
    if args.cpu:
        qemu = shutil.which("qemu-x86_64")
        if qemu is None:
            print("error: --cpu needs qemu-x86_64 (Debian: apt-get install qemu-user)", file=sys.stderr)
            return 2
        prefix = [qemu, "-cpu", args.cpu]
        emulator = (subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()
                    or ["qemu-x86_64"])[0]

    import numpy as np

    from textclass import config, data, results
    from textclass.evaluate import tokenized_batches
    from textclass.models import MPNET, offline_path
    from transformers import AutoTokenizer

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(offline_path(MPNET)))
    validation = data.load_sst2("validation", profile="offline")
    texts, labels = list(validation["sentence"]), np.array(validation["label"])
    # predict_proba's batches (64, at most 64 tokens), the first --batches of them
    batches = list(itertools.islice(tokenized_batches(tokenizer, texts, 64, max_length=64, return_tensors="np"),
                                    args.batches or None))
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"count": np.array(len(batches))}
        for b, (_, enc) in enumerate(batches):
            arrays[f"ids{b}"] = enc["input_ids"].astype(np.int64)
            arrays[f"mask{b}"] = enc["attention_mask"].astype(np.int64)
        np.savez(Path(tmp) / "batches.npz", **arrays)
        proc = subprocess.run([*prefix, sys.executable, str(Path(__file__).resolve()), args.model, "--name", args.name,
                               "--threads", str(args.threads), "--child", str(Path(tmp) / "batches.npz"),
                               str(Path(tmp) / "out.npz")], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"error: the copy did not run{' on the emulated ' + args.cpu if args.cpu else ''}:\n"
                  f"{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        out = np.load(Path(tmp) / "out.npz")
        logits, flags = out["logits"], [str(f) for f in out["flags"]]
    rows = [i for batch, _ in batches for i in batch]
    order = np.argsort(rows)
    idx, pred = np.array(rows)[order], logits.argmax(1)[order]
    accuracy = 100 * float((pred == labels[idx]).mean())
    if args.against:
        agree = int((np.asarray(theirs)[idx] == pred).sum())
        resolved = Path(record_path).resolve()
        against = {"record": resolved.relative_to(REPO / "results").as_posix()
                   if resolved.is_relative_to(REPO / "results") else record_path,
                   "key": key, "agree": agree, "of": len(idx)}
    bits = weight_bits(args.model)
    where = re.sub(r"[^a-z0-9]+", "-", (args.cpu or "native").lower()).strip("-")
    os.environ.setdefault("TEXTCLASS_COMMAND", " ".join(shlex.quote(a) for a in
                                                        ["python", "scripts/int8_on_cpu.py", *sys.argv[1:]]))
    split = {"dataset": "sst2", "split": "validation"} | ({"indices": idx.tolist()} if args.batches else {})
    path = results.record(
        "improve", f"offline-full-int8-{args.name}-{where}",
        {"sst2_validation_accuracy": accuracy, "sentences": len(idx),
         "positive_share": 100 * float(pred.mean())},
        seconds=time.perf_counter() - start,
        directory=args.results_dir or config.results_dir(),
        details={"model_file": Path(args.model).name, "int8_weight_bits": bits,
                 "emulated_cpu": args.cpu, "emulator": emulator, "flags_seen_by_the_copy": flags,
                 "batches": len(batches), "threads": args.threads, "against": against},
        predictions={"sst2_validation_accuracy": split | {"predictions": pred.tolist()}})
    on = f"an emulated {args.cpu} ({emulator})" if args.cpu else "this CPU"
    print(f"{Path(args.model).name} ({bits}-bit weights) on {on}, which shows the copy "
          f"{', '.join(flags) or 'none of ' + ', '.join(INT8_FLAGS)}: {accuracy:.2f}% "
          f"({int((pred == labels[idx]).sum())}/{len(idx)}), {100 * pred.mean():.1f}% called positive")
    if against:
        print(f"the same predictions as {against['record']} ({key}) on {against['agree']} of {against['of']} sentences")
    print(f"record {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
