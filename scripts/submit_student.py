"""Submit the student that scripts/distil_student.py chose to ``improve`` and ``improve-test``, and grade both.

    python scripts/distil_student.py --profile offline --threads 2      # trains, scores, chooses, records
    python scripts/submit_student.py results/improve-offline-full-student-mpnet6.json [--out DIR]

The record names the copy the run chose on the held-out slice (``details.chosen``) and where the run saved it
(``details.checkpoint``, in the course cache). This script loads that copy, predicts SST-2 validation and checks
that the predictions are the ones the record scored (a different model -- another run's, a retrained one -- is
refused, exit 2), predicts the 1,821 SST-2 test sentences, writes two ``submission.json`` files and grades each
with the autograder in its own process (``python -m autograder grade ... --json``): ``improve`` on the public
validation labels, ``improve-test`` on the hidden test key. Files: ``<out>/improve[-test]-<tag>-submission.json``
and the reports ``<out>/improve[-test]-<tag>.json``, where ``<tag>`` is the record's ``student-mpnet<layers>[-seed<n>]``.
Exit 0 when both were graded (passed or not), 2 when something is missing or does not match.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from distil_student import INT8_VARIANTS, onnx_file  # noqa: E402  (the copies' names, made in one place)

# the copies distil_student.py makes: torch's fp32 and int8, onnxruntime's fp32 and its int8 variants
COPIES = ("student", "student_int8", "student_onnx", *(f"student_onnx{v}" for v in INT8_VARIANTS))


def load_copy(chosen: str, checkpoint: Path, threads: int, bits: int = 8):
    """``(model, tokenizer)`` for one of distil_student.py's student copies (a name in :data:`COPIES`; main refuses
    any other), from where that run saved it (``bits``: the weight bits of its onnxruntime copies,
    ``details.int8_weight_bits``; 8 in records before it)."""
    from textclass import finetune as ft
    from textclass.config import ResourceError
    from textclass.onnx import OnnxClassifier

    model, tokenizer, _ = ft.load_finetuned(checkpoint)
    if chosen == "student":
        return model, tokenizer
    if chosen == "student_int8":
        return ft.int8_copy(model), tokenizer  # the int8 copy distil_student.py scored
    path = onnx_file(checkpoint, chosen, bits)  # an onnxruntime copy (a name no run makes: ValueError)
    if not path.is_file():
        raise ResourceError(f"{path} is missing: rerun scripts/distil_student.py (it saves the ONNX copies "
                            "beside the checkpoint)")
    return OnnxClassifier(path, threads=threads), tokenizer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("record", help="a record written by scripts/distil_student.py")
    ap.add_argument("--out", default=None, help="where submissions and reports go (default: grades/ in the results "
                    "folder: TEXTCLASS_RESULTS_DIR, else _build/results/ in the checkout; --out results/grades writes "
                    "the course's reports)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    # the record first, so that one that cannot be submitted is refused before torch and the data load
    try:
        record = json.loads(Path(args.record).read_text(encoding="utf-8"))
        details, metrics = record["details"], record["metrics"]
        chosen, checkpoint = details["chosen"], Path(details["checkpoint"])
        recorded = record["predictions"]["chosen_sst2_validation_accuracy"]["predictions"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {args.record} is not a record of scripts/distil_student.py with a chosen copy ({exc!r}); "
              "run that script first", file=sys.stderr)
        return 2
    if not chosen:
        print(f"error: {args.record}: no student copy ran within the budget, so nothing was chosen to submit",
              file=sys.stderr)
        return 2
    if chosen not in COPIES:
        print(f"error: the record chose {chosen!r}, which this script does not know how to load (it loads "
              f"{', '.join(COPIES)})", file=sys.stderr)
        return 2

    import numpy as np
    import torch

    from textclass import data, finetune as ft, results
    from textclass.config import ResourceError
    from textclass.submission import make_submission, write_submission

    torch.set_num_threads(args.threads)
    profile = record["profile"].split("-")[0]
    try:
        model, tokenizer = load_copy(chosen, checkpoint, args.threads, int(details.get("int8_weight_bits") or 8))
        validation = data.load_sst2("validation", profile=profile)
        test = data.load_sst2("test", profile=profile)
    except ResourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    val_pred = ft.predict_proba(model, tokenizer, list(validation["sentence"])).argmax(1)
    differ = int((val_pred != np.asarray(recorded)).sum())
    if differ:
        print(f"error: the {chosen} at {checkpoint} is not the model {args.record} scored: its validation "
              f"predictions differ on {differ} sentence(s). Rerun scripts/distil_student.py and submit its new record.",
              file=sys.stderr)
        return 2
    test_pred = ft.predict_proba(model, tokenizer, list(test["sentence"])).argmax(1)
    tag = record["profile"].split("-", 2)[-1]  # offline-full-student-mpnet6-seed1 -> student-mpnet6-seed1
    latency = next((v for k, v in metrics.items() if k.startswith("chosen_latency_ms_")), None)
    described = (f"{chosen} of scripts/distil_student.py ({details.get('student')}), chosen on held-out within "
                 f"{details.get('budget_ms'):g} ms; record {Path(args.record).name}")
    from textclass.config import results_dir

    out = Path(args.out) if args.out else results_dir() / "grades"
    code = 0
    for stage, split, preds, claimed in [("improve", "validation", val_pred, metrics["chosen_sst2_validation_accuracy"]),
                                         ("improve-test", "test", test_pred, None)]:
        # the loaders return each split in idx order, the order a submission's predictions take
        sub = make_submission(stage=stage, dataset="sst2", split=split, model=described,
                              predictions=preds, claimed_accuracy=claimed,
                              latency_ms=None if latency is None else round(latency, 4), profile=profile,
                              notes=f"python scripts/submit_student.py {args.record} (commit {results.git_commit()}, "
                                    f"{results.machine(args.threads)})")
        path = write_submission(out / f"{stage}-{tag}-submission.json", sub)
        report = out / f"{stage}-{tag}.json"
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--stage", stage,
                               "--json", str(report)], cwd=REPO, capture_output=True, text=True)
        print(proc.stdout.strip() or proc.stderr.strip())
        if not report.is_file():
            print(f"error: the autograder wrote no report for {path} (exit {proc.returncode}): {proc.stderr[-500:]}",
                  file=sys.stderr)
            code = 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
