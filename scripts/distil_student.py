"""A DistilBERT-sized student for the Level 5 challenge: the first layers of all-mpnet-base-v2, distilled.

    python scripts/distil_student.py [--layers 6] [--ffn 3072] [--limit 20000] [--lr 5e-5] [--threads 2] [--size full]

Level 5's students are all-MiniLM-L6-v2 (384 wide). This one keeps the first ``--layers`` transformer layers of
all-mpnet-base-v2 (768 wide, the teacher's own encoder; six layers is DistilBERT's shape) with a linear head on
the mean-pooled output (``--ffn N`` narrows every layer's feed-forward block from 3,072 neurons to the ``N`` that
contribute most on 2,048 of the train phrases, before training: ``textclass.finetune.narrow_feed_forward``, two
thirds of a layer's multiplications are there), and trains it (all weights, AdamW, linear warm-up and decay, batches of 32 grouped by
length) on ``--limit`` SST-2 train phrases against the MPNet teacher's soft labels in ``results/teacher-*.npz``
(KL divergence to the teacher's distribution); Level 4's sentence-cut held-out slice (the teacher's own) is
evaluated every 125 steps and the best weights are kept. Then SST-2 validation, once, fp32 and int8 (dynamic
quantization of the linear layers), and batch-1 latency (median, tokenisation included) of both next to the
DistilBERT architecture (random weights, fp32 and int8) timed in the same run (every model in turns on the same
sentences, ``textclass.stats.latency_ms_interleaved``, since commit 894d733: the records with
``details.latency_blocks``; before, one model after another); and the same again in onnxruntime (the models
exported to ONNX, int8 by onnxruntime's dynamic quantization: one scale per weight matrix or one per column, the
embedding tables quantized too or kept in fp32). Every student copy is also scored on the held-out slice, and the
copy with the best held-out accuracy among those within ``--budget-ms`` (10 ms, the seed's challenge) is the one the
run *chooses*: validation is looked at once per copy and never picks anything. On a CPU where the copies take
about the budget, the choice moves with the machine's minute (seed 7's copies on an AMD EPYC, book/improve.md).

The record (``results/improve-<profile>-<size>-student-mpnet<layers>[-ffn<N>][-from-<teacher>][-limit<N>|-allphrases]
[-seed<seed>][-<run name>].json``: ``-from-mpnet-30k`` for ``--teacher results/teacher-mpnet-30k.npz``, nothing for
the first teacher, ``teacher-mpnet.npz``; ``--run-name`` adds ``-<run name>``, before any ``-qat<PHRASES>`` of a
trained student) carries the validation predictions of every student copy, so each accuracy re-scores; the student
and its ONNX files are saved to the course cache. ``--size small`` marks a plumbing check (use it with a small
``--limit``); it scores held-out on the first 400 sentences of the teacher's slice (``SMALL_HELDOUT``).
``--student RECORD`` trains nothing: it loads the student that run saved and makes, scores and chooses among
today's copies of it (record ``<that run's name>-requantized-7bit``, or ``-requantized`` with ``--int8-bits 8``,
then ``-<run name>``). onnxruntime's copies keep their weights to 7 bits (``--int8-bits 7``, the
default since 2026-12-05), which every x86 CPU multiplies exactly; 8-bit copies, as the records before made them,
are their CPU's on AVX2 without VNNI (tests/test_int8_cpu.py).

``--student RECORD --ffn N`` narrows that trained student instead (the ``N`` neurons of each feed-forward block that
contribute most on 2,048 train phrases) and lets it learn again, one epoch on ``--limit`` phrases of another
permutation of the train rows (seed + 2) against the same soft labels, keeping the best held-out weights; it is
saved as ``<checkpoint>-ffn<N>`` and the record is ``<that run's name>-ffn<N>[-limit<N>|-allphrases]``; its
``details.feed_forward.after_training`` says how the extra epoch went, while ``student_best_heldout_accuracy``,
``train_*`` and ``details.history`` stay the first training's (as after ``--qat``). A narrowed student is not
narrowed again (exit 2).

``--qat PHRASES`` adds quantization-aware training before the copies are made: the student (trained here, or
loaded with ``--student``) trains once more on ``PHRASES`` of its train phrases against the same soft labels at
``--qat-lr`` while every linear layer computes as onnxruntime's per-column int8 copy will (uint8 activations, 7-bit
weights, rounding passed straight through: ``textclass.onnx.simulated_int8``; ``--qat-per-matrix`` for the per-matrix
copies). Held-out is scored through the simulation before the pass and every ``--qat-eval-every`` steps; the best
weights, the starting ones included, are kept, saved beside the first checkpoint (``<checkpoint>-qat<PHRASES>``),
exported and quantized. The record is ``<the run's name>-qat<PHRASES>`` and says in ``details.qat`` how it went.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from textclass.config import RESULTS_DIR_HELP  # noqa: E402 -- light: os and pathlib only


SMALL_HELDOUT = 400   # --size small scores held-out on this many of the teacher's 2,000 sentences
LATENCY_BLOCKS = 10   # the latency sentences are timed in this many turns of every model (interleaved)
# parts of the names the script makes itself: a --run-name starting so could rebuild another run's name
RESERVED_NAME_PARTS = r"(seed\d+|limit\d+|ffn\d+|allphrases|from|qat\d+|per-matrix|requantized|7bit|8bit)(-|$)"
FIRST_TEACHER = "teacher-mpnet.npz"  # the records' first teacher: students of any other name it in theirs
# onnxruntime's int8 copies of the student: (per_channel, embeddings quantized) for each name's suffix
INT8_VARIANTS = {"_int8": (False, True), "_int8_per_channel": (True, True),
                 "_int8_fp32_embeddings": (False, False), "_int8_per_channel_fp32_embeddings": (True, False)}


def onnx_file(checkpoint: Path, copy_name: str, bits: int = 8) -> Path:
    """Where a run saves the ONNX file of a student copy (``student_onnx``, ``student_onnx_int8``, ...): beside the
    checkpoint, ``<checkpoint>-<model>[-int8[-7bit][-per-channel][-fp32-embeddings]].onnx`` (``-7bit``: weights of
    7 bits, ``bits=7``). scripts/submit_student.py finds them here. A name no run saves (another variant, no
    ``_onnx``) is a ValueError."""
    model, _, variant = copy_name.partition("_onnx")
    if not model or not _ or variant not in ("", *INT8_VARIANTS) or bits not in (7, 8):
        raise ValueError(f"no ONNX copy is named {copy_name!r} ({bits} bits)")
    if variant and bits == 7:
        variant = variant.replace("_int8", "_int8_7bit", 1)
    return checkpoint.with_name(f"{checkpoint.name}-{model}{variant.replace('_', '-')}.onnx")


def student_tag(layers: int, limit: int, seed: int, teacher: str, ffn: int = 0) -> str:
    """A trained student's name in its record and checkpoint: ``student-mpnet<layers>``, then ``-ffn<N>`` when its
    feed-forward blocks were narrowed to ``ffn`` neurons (0: not narrowed), then ``-from-<teacher>``
    unless the teacher's file is :data:`FIRST_TEACHER` (``teacher-mpnet-30k.npz`` gives ``-from-mpnet-30k``), then
    ``-limit<N>`` or ``-allphrases`` (``limit`` 0) unless 20,000 phrases, then ``-seed<seed>`` unless seed 0."""
    taught = "" if teacher == FIRST_TEACHER else f"-from-{Path(teacher).stem.removeprefix('teacher-')}"
    narrowed = f"-ffn{ffn}" if ffn else ""
    return f"student-mpnet{layers}{narrowed}{taught}{phrases_part(limit)}" + (f"-seed{seed}" if seed else "")


def student_refusal(record: str, ffn: int) -> str | None:
    """Why ``--student RECORD`` (with ``--ffn``) cannot run, read from the record and its checkpoint's
    ``info.json`` and ``encoder/config.json`` before torch or the data load; None when nothing stands in the way."""
    try:
        earlier = json.loads(Path(record).read_text(encoding="utf-8"))
        checkpoint = Path(earlier["details"]["checkpoint"])
        info = json.loads((checkpoint / "info.json").read_text(encoding="utf-8"))
        width = int(json.loads((checkpoint / "encoder" / "config.json").read_text(encoding="utf-8"))["intermediate_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{record}: not a record of this script whose student is still saved ({exc}); train it again without --student"
    narrowed = info.get("feed_forward")
    if ffn and narrowed:
        return (f"--ffn with --student: that student was narrowed already ({narrowed['kept']:,} of "
                f"{narrowed['of']:,} feed-forward neurons); narrow the student it came from instead")
    if ffn and not 1 <= ffn < width:
        return (f"--ffn {ffn} with --student: that student has {width:,} feed-forward neurons per layer; "
                f"keep between 1 and {width - 1:,}")
    return None


def distilbert_onnx_files(model, tokenizer, seed: int, bits: int) -> tuple[str, str]:
    """The random DistilBERT's onnxruntime files, fp32 and int8 (one scale per matrix, ``bits``-bit weights), made
    once per seed and library versions in ``<cache>/distilbert-random/`` and reused: a run takes only their latency,
    and exporting and quantizing DistilBERT took about 10 s of every run (each written under a temporary name and
    renamed, so a run never finds half a file)."""
    import onnxruntime
    import torch
    import transformers

    from textclass import onnx
    from textclass.config import cache_dir

    folder = cache_dir() / "distilbert-random"
    folder.mkdir(parents=True, exist_ok=True)
    stem = (f"seed{seed}-torch{torch.__version__}-transformers{transformers.__version__}"
            f"-onnxruntime{onnxruntime.__version__}")
    fp32, int8 = folder / f"{stem}.onnx", folder / f"{stem}-int8-{bits}bit.onnx"
    for path, make in ((fp32, lambda tmp: onnx.export_classifier(model, tokenizer, tmp)),
                       (int8, lambda tmp: onnx.quantize_int8(fp32, tmp, reduce_range=bits == 7))):
        if not path.is_file():
            tmp = path.with_name(f"{path.stem}-{os.getpid()}.partial.onnx")
            make(tmp)
            os.replace(tmp, path)
    return str(fp32), str(int8)


def curve(run: dict) -> list:
    """A training run's held-out curve as records keep it: ``[step, accuracy to 2 decimals]`` per evaluation."""
    return [[r["step"], round(r["heldout_accuracy"], 2)] for r in run["history"]]


def phrases_part(limit: int) -> str:
    """How a name says the phrases a run trained on: nothing for 20,000, ``-limit<N>``, or ``-allphrases`` (0)."""
    return "" if limit == 20000 else f"-limit{limit}" if limit else "-allphrases"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="auto", help="online, offline or auto (as the notebooks)")
    ap.add_argument("--size", default="full", choices=["small", "full"], help="small: a plumbing check")
    ap.add_argument("--layers", type=int, default=6, help="transformer layers of all-mpnet-base-v2 kept (default 6)")
    ap.add_argument("--ffn", type=int, default=0, metavar="N",
                    help="keep the N feed-forward neurons per layer that contribute most (of 3,072), dropping the "
                         "rest before training: a narrower, faster student (default 0: all)")
    ap.add_argument("--limit", type=int, default=20000,
                    help="train phrases distilled (default 20,000; 0: every phrase outside the held-out slice)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--eval-every", type=int, default=125, help="steps between held-out evaluations")
    ap.add_argument("--teacher", default=None,
                    help="teacher soft labels (default: the last teacher-*.npz by name in the results folder, then in results/)")
    ap.add_argument("--latency-sentences", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget-ms", type=float, default=10.0,
                    help="latency budget of the chosen copy (median batch-1 ms; default 10, the seed's challenge)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--student", default=None, metavar="RECORD",
                    help="no training: make and score the copies of the student an earlier run saved (its record); "
                         "the new record is that run's name plus -requantized-7bit (-requantized with --int8-bits 8)")
    ap.add_argument("--int8-bits", type=int, default=7, choices=[7, 8],
                    help="weight bits of onnxruntime's int8 copies: 7 (default) is exact on every x86 CPU; 8 as "
                         "the records before 2026-12-05, whose products saturate on AVX2 without VNNI")
    ap.add_argument("--qat", type=int, default=0, metavar="PHRASES",
                    help="after training (or loading, with --student), quantization-aware training on this many "
                         "train phrases: every linear layer computes as onnxruntime's per-column int8 copy will "
                         "(textclass.onnx.simulated_int8), the best held-out weights through it are kept, and the "
                         "copies are made from them; the record's name gains -qat<PHRASES> (default 0: none)")
    ap.add_argument("--qat-lr", type=float, default=1e-5, help="learning rate of the --qat pass (default 1e-5)")
    ap.add_argument("--qat-eval-every", type=int, default=50, help="steps between the --qat pass's held-out evaluations")
    ap.add_argument("--qat-per-matrix", action="store_true",
                    help="simulate one weight scale per matrix (the per-matrix copies) instead of one per column")
    ap.add_argument("--run-name", default=None, metavar="SUFFIX",
                    help="appended to the record's name (and a trained student's checkpoint): -SUFFIX, so that two "
                         "runs alike (a student timed twice) keep both records")
    ap.add_argument("--results-dir", default=None, help=RESULTS_DIR_HELP)
    args = ap.parse_args(argv)
    if args.run_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.]*(-[A-Za-z0-9.]+)*", args.run_name):
        ap.error(f"--run-name {args.run_name!r}: letters, digits, dots and single hyphens inside (e.g. retimed-2)")
    if args.run_name and re.match(RESERVED_NAME_PARTS, args.run_name):
        ap.error(f"--run-name {args.run_name!r} starts like a part the script names itself (seed1, allphrases, "
                 "from-..., qat..., requantized...): it could take another run's record; choose another (e.g. retimed-2)")
    name_suffix = f"-{args.run_name}" if args.run_name else ""
    if args.ffn < 0:
        ap.error(f"--ffn {args.ffn}: the feed-forward neurons to keep per layer, a positive number (0 keeps them all)")
    refusal = args.student and student_refusal(args.student, args.ffn)
    if refusal:  # before torch and the data load: a refusal takes a second
        print(f"error: {refusal}", file=sys.stderr)
        return 2

    import numpy as np
    import torch
    import transformers

    from textclass import config, data, finetune as ft, onnx, results, stats
    from textclass.models import MINILM, MPNET, load_encoder

    torch.set_num_threads(args.threads)
    profile = config.resolve_profile(args.profile)
    teacher_path = results.teacher_artifact(args.teacher)
    if teacher_path is None or not teacher_path.exists():
        print(f"error: no teacher soft labels ({teacher_path or 'results/teacher-*.npz'}): run the MPNet teacher "
              "first (book/improve.md says how)", file=sys.stderr)
        return 2
    teacher = ft.load_teacher_labels(teacher_path)
    provenance, soft_by_row = teacher.provenance, teacher.by_row

    train = data.load_sst2("train", profile=profile)
    validation = data.load_sst2("validation", profile=profile)
    sents, labs = list(train["sentence"]), np.array(train["label"])
    val_texts, val_labels = list(validation["sentence"]), np.array(validation["label"])
    evaluation = ft.evaluation_sentences(profile)
    # the teacher's own held-out slice (Level 4's split with its seed): the student never trains on it
    train_rows, held_idx, _ = ft.train_heldout_rows(sents, provenance["heldout_size"],
                                                    seed=ft.split_seed_of(provenance),
                                                    evaluation=evaluation,
                                                    by_sentence=provenance["heldout_by_sentence"])
    if not teacher.holds_out(held_idx):
        print(f"error: the held-out slice differs from the one {teacher_path.name} was made with", file=sys.stderr)
        return 2
    held_texts, held_labels = [sents[i] for i in held_idx], labs[held_idx]
    if args.size == "small":  # a plumbing check trains on a few phrases: a fifth of the slice shows the same
        held_texts, held_labels = held_texts[:SMALL_HELDOUT], held_labels[:SMALL_HELDOUT]

    def heldout_accuracy(model) -> float:
        return 100 * float((ft.predict_proba(model, tokenizer, held_texts).argmax(1) == held_labels).mean())

    def val_accuracy(pred) -> float:
        return 100 * float((pred == val_labels).mean())

    def phrase_rows(seed: int, limit: int | None) -> np.ndarray:
        """The train rows the teacher labelled, in the order of ``seed``'s permutation, the first ``limit`` (all)."""
        return np.array([r for r in np.random.default_rng(seed).permutation(train_rows) if r in soft_by_row][:limit])

    def distil(rows, *, lr: float, eval_every: int, seed: int) -> dict:
        """One epoch of the student on ``rows`` against the teacher's probabilities, best held-out weights kept."""
        return ft.train_loop(student, tokenizer, [sents[i] for i in rows], labs[rows],
                             heldout_texts=held_texts, heldout_labels=held_labels,
                             soft_targets=np.stack([soft_by_row[r] for r in rows]), epochs=1, lr=lr, batch_size=32,
                             eval_every=eval_every, patience=float("inf"), seed=seed, progress=False)

    def narrow(rows, width: int) -> dict:
        """Keep the --ffn neurons of every feed-forward block that contribute most on the first ft.FEED_FORWARD_SAMPLE rows."""
        sample = [sents[i] for i in rows[:ft.FEED_FORWARD_SAMPLE]]
        ft.narrow_feed_forward(student.encoder, args.ffn, ft.feed_forward_importance(student, tokenizer, sample))
        return {"kept": args.ffn, "of": width, "sample_phrases": len(sample),
                "importance": "mean |activation| on the sample's tokens x length of the neuron's output column"}

    def save(checkpoint, info: dict) -> np.ndarray:
        """Save the student with its validation accuracy in its info; returns its validation predictions."""
        pred = ft.predict_proba(student, tokenizer, val_texts).argmax(1)
        ft.save_finetuned(student, tokenizer, checkpoint,
                          info | {"sst2_validation_accuracy": val_accuracy(pred)})
        return pred

    earlier = None
    if args.student:  # no training: the student an earlier run saved, scored again with today's copies
        try:
            earlier = json.loads(Path(args.student).read_text(encoding="utf-8"))
            checkpoint = Path(earlier["details"]["checkpoint"])
            args.seed, args.lr = earlier["details"]["seed"], earlier["details"]["lr"]
            args.eval_every = earlier["details"]["eval_every"]
            if not earlier["profile"].startswith(f"{profile}-{args.size}-"):
                print(f"error: {args.student} is a {earlier['profile']} record; pass the --profile and --size it was "
                      "made with", file=sys.stderr)
                return 2
            tag = earlier["profile"].removeprefix(f"{profile}-{args.size}-")  # + -qat<N> or -requantized[-7bit]
            student, tokenizer, info = ft.load_finetuned(checkpoint)
            args.layers = info["layers"]
            narrowed = info.get("feed_forward")
        except (OSError, ValueError, KeyError, TypeError, config.ResourceError) as exc:
            print(f"error: {args.student}: not a record of this script whose student is still saved ({exc}); "
                  "train it again without --student", file=sys.stderr)
            return 2
        if info.get("teacher") != teacher_path.name:
            print(f"error: that student learned from {info.get('teacher')}, not {teacher_path.name}", file=sys.stderr)
            return 2
        run = {"best_heldout_accuracy": earlier["metrics"]["student_best_heldout_accuracy"],
               "seconds": earlier["metrics"]["train_seconds"], "history": [],
               "examples_per_second": earlier["metrics"]["train_examples_per_second"]}
        rows = range(int(earlier["metrics"]["train_examples"]))
        pred = ft.predict_proba(student, tokenizer, val_texts).argmax(1)
    else:
        rows = phrase_rows(args.seed, args.limit or None)

        enc = load_encoder(MPNET, profile=profile)
        tokenizer = enc.tokenizer
        ft.set_seed(args.seed)  # the new head's initial weights too
        student = ft.PooledClassifier(enc.model, layers=args.layers)
        narrowed = None
        if args.ffn:
            width = enc.model.config.intermediate_size
            if not 1 <= args.ffn < width:
                print(f"error: --ffn {args.ffn}: keep between 1 and {width - 1} of the {width} feed-forward neurons "
                      "(0 keeps them all)", file=sys.stderr)
                return 2
            narrowed = narrow(rows, width)
        run = distil(rows, lr=args.lr, eval_every=args.eval_every, seed=args.seed)
        tag = student_tag(args.layers, args.limit, args.seed, teacher_path.name, args.ffn) + name_suffix
        checkpoint = ft.checkpoint_dir(profile, args.size).with_name(f"{profile}-{args.size}-{tag}")
        info = {"encoder": MPNET, "layers": args.layers, "teacher": teacher_path.name, "seed": args.seed,
                "heldout_size": provenance["heldout_size"], "heldout_by_sentence": provenance["heldout_by_sentence"],
                "lr": args.lr, "train_examples": len(rows)} | ({"feed_forward": narrowed} if narrowed else {})
        pred = save(checkpoint, info)
    retrained = False
    if args.student and args.ffn:  # narrow the trained student's feed-forward blocks, then let it learn again
        width = student.encoder.config.intermediate_size  # (a narrowed student or a width it lacks: refused above)
        again = phrase_rows(args.seed + 2, args.limit or None)
        narrowed = narrow(again, width)
        before = heldout_accuracy(student)
        again_run = distil(again, lr=args.lr, eval_every=args.eval_every, seed=args.seed + 2)
        narrowed["after_training"] = {"fp32_sst2_validation_accuracy_before": val_accuracy(pred),
                                      "heldout_accuracy_just_narrowed": before, "phrases": len(again),
                                      "seed": args.seed + 2, "lr": args.lr, "seconds": round(again_run["seconds"], 1),
                                      "examples_per_second": again_run["examples_per_second"],
                                      "best_heldout_accuracy": again_run["best_heldout_accuracy"],
                                      "history": curve(again_run), "from_checkpoint": str(checkpoint)}
        suffix = f"-ffn{args.ffn}{phrases_part(args.limit)}"
        tag += suffix + name_suffix
        checkpoint = checkpoint.with_name(f"{checkpoint.name}{suffix}{name_suffix}")
        info = info | {"feed_forward": narrowed}  # (a --qat pass after this saves it too)
        pred = save(checkpoint, info)
        retrained, name_suffix = True, ""  # (the name has it now, before any -qat)
    qat = None
    if args.qat:  # quantization-aware training: the rounding of the int8 copy simulated while training on
        import copy  # phrases of the train rows (an every-phrase student has seen each of them once already)

        qat_rows = phrase_rows(args.seed + 1, args.qat)
        with onnx.simulated_int8(student, bits=args.int8_bits, per_channel=not args.qat_per_matrix):
            before = heldout_accuracy(student)
            start_state = copy.deepcopy(student.state_dict())
            qat_run = distil(qat_rows, lr=args.qat_lr, eval_every=args.qat_eval_every, seed=args.seed + 1)
        kept = "trained" if qat_run["best_heldout_accuracy"] > before else "starting"
        if kept == "starting":  # the pass never beat the weights it started from, through the same simulation
            student.load_state_dict(start_state)
        qat = {"phrases": len(qat_rows), "steps": int(np.ceil(len(qat_rows) / 32)), "lr": args.qat_lr,
               "eval_every": args.qat_eval_every, "seed": args.seed + 1, "weight_bits": args.int8_bits,
               "per_channel": not args.qat_per_matrix,
               "seconds": round(qat_run["seconds"], 1), "examples_per_second": qat_run["examples_per_second"],
               "heldout_accuracy_simulated_before": before,
               "best_heldout_accuracy_simulated": qat_run["best_heldout_accuracy"], "weights_kept": kept,
               "history": curve(qat_run),
               "from_checkpoint": str(checkpoint)}
        suffix = f"-qat{len(qat_rows)}" + ("-per-matrix" if args.qat_per_matrix else "") + (
            "" if args.int8_bits == 7 else "-8bit")
        tag += suffix
        checkpoint = checkpoint.with_name(f"{checkpoint.name}{suffix}{name_suffix if args.student else ''}")
        pred = save(checkpoint, info | {"qat": qat})
    elif args.student and not retrained:  # the same weights, today's copies
        tag += "-requantized-7bit" if args.int8_bits == 7 else "-requantized"
    if args.student:
        tag += name_suffix  # (a trained student's name has it already, before any -qat)
    student.cpu().eval()
    quantized = ft.int8_copy(student)
    transformers.set_seed(args.seed)
    distilbert = transformers.DistilBertForSequenceClassification(transformers.DistilBertConfig(num_labels=2)).eval()
    distilbert_int8 = ft.int8_copy(distilbert)
    wordpiece = load_encoder(MINILM, profile=profile).tokenizer  # DistilBERT's vocabulary (what its latency needs)
    # the same models in onnxruntime (fp32, and int8 by its own dynamic quantization): the student's beside the
    # checkpoint, with its int8 candidates, chosen on held-out or not (one scale per weight matrix or per column,
    # the embedding tables quantized too or kept in fp32); DistilBERT's fp32 and first int8 copy from the cache
    path = onnx.export_classifier(student, tokenizer, onnx_file(checkpoint, "student_onnx"))
    runtimes = {"student_onnx": (onnx.OnnxClassifier(path, threads=args.threads), tokenizer)}
    for variant, (per_channel, embeddings) in INT8_VARIANTS.items():
        copy_name = f"student_onnx{variant}"
        runtimes[copy_name] = (onnx.OnnxClassifier(onnx.quantize_int8(
            path, onnx_file(checkpoint, copy_name, args.int8_bits), per_channel=per_channel, embeddings=embeddings,
            reduce_range=args.int8_bits == 7), threads=args.threads), tokenizer)
    for copy_name, path in zip(("distilbert_onnx", "distilbert_onnx_int8"),
                               distilbert_onnx_files(distilbert, wordpiece, args.seed, args.int8_bits)):
        runtimes[copy_name] = (onnx.OnnxClassifier(path, threads=args.threads), wordpiece)
    runs = {"student": (student, tokenizer), "student_int8": (quantized, tokenizer),
            "distilbert": (distilbert, wordpiece), "distilbert_int8": (distilbert_int8, wordpiece)} | runtimes
    students = [name for name in runs if name.startswith("student")]
    preds = {"student": pred} | {name: ft.predict_proba(runs[name][0], tokenizer, val_texts).argmax(1)
                                 for name in students[1:]}
    lat_texts = val_texts[:args.latency_sentences]
    # every model timed in turns on the same sentences, so that a slow spell of the machine slows them alike
    timed = stats.latency_ms_interleaved({name: stats.batch1(model, tok) for name, (model, tok) in runs.items()},
                                         lat_texts, threads=args.threads, blocks=LATENCY_BLOCKS)
    latency = {name: out["median_ms"] for name, out in timed.items()}
    acc = {name: val_accuracy(p) for name, p in preds.items()}
    held = {name: heldout_accuracy(runs[name][0]) for name in students}
    # the run's choice: the best held-out accuracy within the latency budget (ties: the faster copy)
    within = [name for name in students if latency[name] <= args.budget_ms]
    chosen = max(within, key=lambda name: (held[name], -latency[name])) if within else None
    os.environ.setdefault("TEXTCLASS_COMMAND", " ".join(shlex.quote(a) for a in
                                                        ["python", "scripts/distil_student.py", *sys.argv[1:]]))
    metrics = {f"{name}_sst2_validation_accuracy": acc[name] for name in students}
    metrics |= {f"{name}_heldout_accuracy": held[name] for name in students}
    if chosen:
        metrics |= {"chosen_sst2_validation_accuracy": acc[chosen], "chosen_heldout_accuracy": held[chosen],
                    f"chosen_latency_ms_{args.threads}threads": latency[chosen]}
    metrics |= {"student_best_heldout_accuracy": run["best_heldout_accuracy"],
               "train_examples": len(rows), "train_seconds": run["seconds"],
               "train_examples_per_second": run["examples_per_second"]}
    metrics |= {f"{name}_latency_ms_{args.threads}threads": ms for name, ms in latency.items()}
    metrics |= {f"{name}_latency_ratio_to_distilbert": latency[name] / latency["distilbert"] for name in students}
    split = {"dataset": "sst2", "split": "validation"}
    record = results.record(
        "improve", f"{profile}-{args.size}-{tag}", metrics, seconds=time.perf_counter() - START,
        directory=args.results_dir or config.results_dir(),
        details={"student": f"first {args.layers} layers of {MPNET}"
                 + (f", feed-forward narrowed to {narrowed['kept']:,} of {narrowed['of']:,} neurons" if narrowed else "")
                 + ", mean pooling, linear head",
                 "loss": "KL divergence to the teacher's probabilities (T = 1)", "teacher": teacher_path.name,
                 "teacher_validation_accuracy": provenance.get("sst2_validation_accuracy"),
                 "lr": args.lr, "batch_size": 32, "epochs": 1, "eval_every": args.eval_every, "threads": args.threads,
                 "seed": args.seed, "heldout_sentences": len(held_texts), "latency_sentences": len(lat_texts),
                 "latency_blocks": timed["distilbert"]["blocks"],
                 "checkpoint": str(checkpoint),
                 "history": earlier["details"]["history"] if earlier else
                 curve(run),
                 "chosen": chosen, "budget_ms": args.budget_ms, "int8_weight_bits": args.int8_bits,
                 "chosen_by": "best held-out accuracy among the student copies within the latency budget"}
        | ({"qat": qat} if qat else {}) | ({"feed_forward": narrowed} if narrowed else {})
        | ({"student_from": {"record": Path(args.student).name, "commit": earlier["commit"],
                             "command": earlier["command"]}} if earlier else {}),
        predictions={f"{name}_sst2_validation_accuracy": split | {"predictions": preds[name].tolist()}
                     for name in students} | ({"chosen_sst2_validation_accuracy": split | {
                         "predictions": preds[chosen].tolist()}} if chosen else {}))
    plumbing = "PLUMBING CHECK, NOT A RESULT: " if args.size == "small" else ""
    trained = f"trained by {Path(args.student).name}" if earlier else "trained"
    ffn = f", feed-forward {narrowed['kept']:,} of {narrowed['of']:,}" if narrowed else ""
    print(f"{plumbing}student ({args.layers} MPNet layers{ffn}, {len(rows):,} phrases, {trained} in {run['seconds']:.0f} s), "
          f"SST-2 validation and batch-1 latency ({args.threads} threads):")
    print(f"  {'':46s} {'held-out':>8s}  {'SST-2 validation':>18s}")
    for name in runs:
        scored = (f"{held[name]:7.2f}%  {acc[name]:6.2f}% ({int((preds[name] == val_labels).sum())}/{len(val_labels)})"
                  if name in preds else f"{'':8s}  {'(latency only)':>18s}")
        print(f"  {name:46s} {scored}  {latency[name]:6.1f} ms  x{latency[name] / latency['distilbert']:.2f} DistilBERT")
    if chosen:
        print(f"chosen on held-out within {args.budget_ms:g} ms: {chosen}, SST-2 validation {acc[chosen]:.2f}% "
              f"at {latency[chosen]:.1f} ms")
    else:
        print(f"no student copy runs within {args.budget_ms:g} ms: nothing chosen")
    print(f"record {record}")
    return 0


START = time.perf_counter()

if __name__ == "__main__":
    raise SystemExit(main())
