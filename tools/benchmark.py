#!/usr/bin/env python
"""Benchmarks of the course, measured side by side in one run (a script, not a test):

1. the course's evaluator (``textclass.evaluate.predict_proba``: length-sorted batches) against the reference
   script's per-sentence loop (``textclass.evaluate.per_sentence_proba``) on the same model -- a linear probe on
   all-MiniLM-L6-v2 fitted on a small SST-2 train subset -- and the same SST-2 validation sentences;
2. batch-1 CPU latency (median ms per sentence, tokenisation included) with 1 and 2 threads of every model the
   course has offline: all-MiniLM-L6-v2 and all-mpnet-base-v2 (torch), and the two ONNX MiniLMs (onnxruntime,
   tokenised with all-MiniLM-L6-v2's tokenizer);
3. the wall time of each notebook per profile, read from the ``seconds`` of the records in ``results/``.

Writes ``benchmarks/results.json`` (with the command, commit, machine and date) and ``book/benchmarks.md``::

    python -m tools.benchmark                       # everything, the defaults below (~2 min on 2 CPU cores)
    python -m tools.benchmark --n 16 --train 40 --latency-sentences 3 --models minilm --out /tmp/b.json --page /tmp/b.md
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

from autograder import first_paragraph
from tools import REPO_ROOT as REPO

MODELS = ("minilm", "mpnet", "onnx-int8", "onnx-l3")


def _sst2(split: str, limit: int | None, data_dir):
    from textclass.data import load_split

    ds = load_split("sst2", split, data_dir=data_dir, profile="offline", limit=limit)
    return list(ds["sentence"]), list(ds["label"])


def evaluator_vs_per_sentence(args, val_texts) -> dict:
    import numpy as np
    import torch

    from textclass.evaluate import per_sentence_proba, predict_proba
    from textclass.models import MINILM, load_encoder
    from textclass.probe import fit_probe

    torch.set_num_threads(args.eval_threads)
    train_texts, train_labels = _sst2("train", args.train, args.data_dir)
    loaded = load_encoder(MINILM, profile="offline")
    probe, _ = fit_probe(loaded, train_texts, train_labels, device="cpu", progress=False)
    tok = loaded.tokenizer
    predict_proba(probe, tok, val_texts[:8], device="cpu", progress=False)  # warm-up, not timed
    start = time.perf_counter()
    batched = predict_proba(probe, tok, val_texts, batch_size=args.batch_size, device="cpu", progress=False)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    single = per_sentence_proba(probe, tok, val_texts, device="cpu", progress=False)
    single_s = time.perf_counter() - start
    return {
        "model": f"linear probe on {MINILM} (fitted on the first {len(train_texts)} SST-2 train sentences)",
        "n": len(val_texts), "threads": args.eval_threads, "batch_size": args.batch_size,
        "batched_seconds": round(batched_s, 3), "per_sentence_seconds": round(single_s, 3),
        "speedup": round(single_s / batched_s, 3),
        "same_predictions": int((batched.argmax(1) == single.argmax(1)).sum()),
        "max_probability_difference": float(np.abs(batched - single).max()),
    }


def _median_ms(fn, sentences, warmup: int) -> float:
    for s in sentences[:warmup]:
        fn(s)
    times = []
    for s in sentences:
        start = time.perf_counter()
        fn(s)
        times.append(1000 * (time.perf_counter() - start))
    return round(statistics.median(times), 3)


def _torch_runner(name):
    import torch

    from textclass.models import load_encoder
    from textclass.probe import mean_pool

    loaded = load_encoder(name, profile="offline")
    model, tok = loaded.model.eval(), loaded.tokenizer

    def run(sentence):
        enc = tok([sentence], truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            return mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])

    return run, (lambda t: torch.set_num_threads(t)), "torch " + torch.__version__


def _onnx_runner(name, threads: int, tok):
    import numpy as np
    import onnxruntime as ort

    from textclass.models import offline_path

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(offline_path(name)), opts, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}

    def run(sentence):
        enc = tok([sentence], truncation=True, max_length=128, return_tensors="np")
        feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in wanted}
        return sess.run(None, feed)[0]

    return run, "onnxruntime " + ort.__version__


def latency(args, sentences) -> dict:
    import torch

    import transformers

    from textclass.models import MINILM, MINILM_INT8_ONNX, MINILM_L3_ONNX, MPNET, tokenizer_dir

    names = {"minilm": MINILM, "mpnet": MPNET, "onnx-int8": MINILM_INT8_ONNX, "onnx-l3": MINILM_L3_ONNX}
    out, skipped = [], []
    before = torch.get_num_threads()
    for key in args.models:
        name = names[key]
        try:
            ms = {}
            if key.startswith("onnx"):
                tok = transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir()))  # all-MiniLM-L6-v2's
                for t in args.threads:
                    run, runtime = _onnx_runner(name, t, tok)
                    ms[str(t)] = _median_ms(run, sentences, args.warmup)
            else:
                run, set_threads, runtime = _torch_runner(name)
                for t in args.threads:
                    set_threads(t)
                    ms[str(t)] = _median_ms(run, sentences, args.warmup)
            out.append({"model": name, "runtime": runtime, "ms": ms})
        except Exception as exc:  # a model not installed is reported, not fatal
            skipped.append({"model": name, "why": f"{type(exc).__name__}: {exc}"})
        finally:
            torch.set_num_threads(before)
        print(f"latency {name}: {out[-1]['ms'] if out and out[-1]['model'] == name else skipped[-1]['why']}",
              flush=True)
    return {"sentences": len(sentences), "warmup": args.warmup, "threads": args.threads, "models": out,
            "skipped": skipped}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools benchmark", description=first_paragraph(__doc__))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results.json"))
    ap.add_argument("--page", default=str(REPO / "book" / "benchmarks.md"), help="the book page to write")
    ap.add_argument("--results-dir", default=str(REPO / "results"), help="result records (notebook wall times)")
    ap.add_argument("--data-dir", default=None, help="offline data (default TEXTCLASS_DATA_DIR or ../shared/data)")
    ap.add_argument("--n", type=int, default=None, help="validation sentences (default: all 872)")
    ap.add_argument("--train", type=int, default=2000, help="train sentences the probe is fitted on")
    ap.add_argument("--batch-size", type=int, default=64, help="predict_proba's batch size (its default)")
    ap.add_argument("--eval-threads", type=int, default=2, help="torch threads for the evaluator comparison")
    ap.add_argument("--latency-sentences", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="thread counts for latency")
    ap.add_argument("--models", default=",".join(MODELS), help=f"latency models, from {','.join(MODELS)}")
    ap.add_argument("--skip-evaluator", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.models = [m for m in args.models.split(",") if m]
    unknown = set(args.models) - set(MODELS)
    if unknown:
        ap.error(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}")

    from tools.book import benchmarks_page, notebook_walls
    from textclass.results import machine, provenance
    from textclass.submission import atomic_write_text

    val_texts, _ = _sst2("validation", args.n, args.data_dir)
    res = {"command": "python -m tools benchmark" + "".join(" " + shlex.quote(a) for a in (argv if argv is not None
                                                                                         else sys.argv[1:])),
           **provenance()}
    start = time.perf_counter()
    if not args.skip_evaluator:
        res["evaluator"] = evaluator_vs_per_sentence(args, val_texts)
        print(f"evaluator: {json.dumps(res['evaluator'])}", flush=True)
    if not args.skip_latency:
        res["latency"] = latency(args, val_texts[:args.latency_sentences])
    res["notebooks"] = notebook_walls(Path(args.results_dir))
    res["seconds"] = round(time.perf_counter() - start, 1)
    res["machine"] = machine()  # after the runs: torch's thread count is restored
    atomic_write_text(Path(args.out), json.dumps(res, indent=1) + "\n")
    atomic_write_text(Path(args.page), benchmarks_page(Path(args.out), Path(args.results_dir)))
    print(f"wrote {args.out} and {args.page} in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
