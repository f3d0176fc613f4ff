"""Scores and verdicts: gold labels (from the instructor's key directory or the split's public labels), the
accuracy recomputed from a submission's predictions (``claimed_accuracy`` is never trusted), and reports."""
from __future__ import annotations

import contextlib
import sys

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from autograder.escape import plain_text
from autograder.stages import OFFLINE_CANNOT_PASS, Stage, mismatch_message, offline_advice, profile_note
from textclass.evaluate import wilson_interval
from textclass.submission import SubmissionError, atomic_write_text, load_submission

MAX_BYTES = 50 * 2**20  # larger files are refused without being read
CLAIM_TOLERANCE = 0.05  # percentage points
EXIT_PASSED, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
_SHOWN_FIELDS = ("model", "parameters", "latency_ms", "team", "learner", "created", "profile")


@dataclass(frozen=True)
class Gold:
    labels: tuple
    public: bool  # the split's labels are public (a copy of them is flagged)
    source: str
    num_classes: int


def keys_dir() -> Path | None:
    """The instructor's key directory (``AUTOGRADER_KEYS_DIR``), if configured."""
    return Path(os.environ["AUTOGRADER_KEYS_DIR"]) if os.environ.get("AUTOGRADER_KEYS_DIR") else None


def check_keys_dir(data_dir=None) -> None:
    """Refuse (ValueError) an ``AUTOGRADER_KEYS_DIR`` that is the data directory or holds it: the jail hides the key
    directory from a learner's notebook, so it would hide the data too, and every notebook would fail to load
    SST-2 as if the learner had broken it."""
    from textclass.config import resolve_data_dir

    keys = keys_dir()
    try:
        data = resolve_data_dir(data_dir)
    except Exception:  # noqa: BLE001 -- no usable data directory: nothing the keys could hide
        return
    if keys is None or data is None:
        return
    k, d = keys.expanduser().resolve(), Path(data).resolve()
    if k == d or k in d.parents:
        raise ValueError(f"AUTOGRADER_KEYS_DIR={keys} is the data directory {data} or holds it: the grader hides the "
                         "key directory from every learner's notebook, so the data would be hidden too and every "
                         "notebook would fail to load its dataset. Unset AUTOGRADER_KEYS_DIR (a key inside the data "
                         "directory is found and hidden without it) or move the keys to a folder of their own, e.g. "
                         "/srv/course-keys")


def key_path(stage: Stage, data_dir=None) -> Path | None:
    """Where ``stage``'s hidden key is: ``AUTOGRADER_KEYS_DIR/<answer_key>`` first, else the data directory's."""
    if not stage.answer_key:
        return None
    for base in (keys_dir(), Path(data_dir) if data_dir else None):
        if base is not None and (base / stage.answer_key).is_file():
            return base / stage.answer_key
    return (Path(data_dir) / stage.answer_key) if data_dir else None


def load_gold(stage: Stage, answer_key=None, data_dir=None) -> Gold:
    """Gold labels in ``idx`` order: ``answer_key`` (or the stage's), else the split's public labels."""
    from textclass.config import resolve_data_dir
    from textclass.data import label_names, load_answer_key, load_gold_labels

    directory = resolve_data_dir(data_dir)
    key = Path(answer_key) if answer_key else key_path(stage, directory)
    if stage.answer_key and key is None:
        raise SubmissionError(f"stage {stage.name} needs its answer key {stage.answer_key}: set "
                              "AUTOGRADER_KEYS_DIR (the instructor's key directory), --data-dir or "
                              "TEXTCLASS_DATA_DIR, or pass --answer-key")
    if key is not None:
        mapping = load_answer_key(key)
        if sorted(mapping) != list(range(len(mapping))):
            raise SubmissionError(f"answer key {key}: indices must be 0..{len(mapping) - 1}, each once")
        labels, public, source = tuple(mapping[i] for i in range(len(mapping))), False, str(key)
    else:
        # the data directory when there is one, else the Hub (Colab); a clear ResourceError when neither
        # (the data layer names its source on stdout; a grader's stdout may be its JSON report: stderr instead)
        with contextlib.redirect_stdout(sys.stderr):
            labels = tuple(load_gold_labels(stage.dataset, stage.split, data_dir=directory,
                                            profile="offline" if directory else "auto"))
        public, source = True, f"{stage.dataset}/{stage.split} public labels"
        if any(y < 0 for y in labels):
            raise SubmissionError(f"{stage.dataset}/{stage.split} has no public labels; pass --answer-key KEY.tsv")
    try:
        num_classes = len(label_names(stage.dataset, data_dir=directory)) or max(labels) + 1
    except Exception:  # noqa: BLE001 -- label names unavailable: the key's own range
        num_classes = max(labels) + 1
    return Gold(labels, public, source, num_classes)


def _describe(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_predictions(sub: dict, stage: Stage, gold: Gold) -> list[int]:
    """The predictions as ints, or :class:`SubmissionError` saying what is wrong and what to do."""
    for field, want in (("stage", stage.name), ("dataset", stage.dataset), ("split", stage.split)):
        if sub.get(field) != want:
            got = sub.get(field)
            raise SubmissionError(mismatch_message(field, plain_text(got) if isinstance(got, str) and len(got) <= 40
                                                   else _describe(got), stage))
    preds, n = sub["predictions"], len(gold.labels)
    if not isinstance(preds, list):
        raise SubmissionError(f"predictions must be a list of {n} integer labels, not {type(preds).__name__}")
    if len(preds) != n:
        raise SubmissionError(f"{len(preds)} predictions for {n} examples of {stage.dataset}/{stage.split}: predict "
                              "every example once, in idx order (do not use limit=... for a graded run)")
    bad = [(i, p) for i, p in enumerate(preds)
           if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < gold.num_classes]
    if bad:
        shown = ", ".join(f"predictions[{i}] = {_describe(p)}" for i, p in bad[:3])
        raise SubmissionError(f"{len(bad)} prediction(s) are not labels in 0..{gold.num_classes - 1} ({shown}"
                              f"{', ...' if len(bad) > 3 else ''}): write integer class ids, e.g. "
                              "probabilities.argmax(axis=1), through make_submission(...)")
    return preds


_PENDING_REVIEW = ("Score 0 pending the instructor's review of the notebook that produced them (hand it in if you "
                   "sent only a submission.json).")


def score(sub: dict, stage: Stage, gold: Gold) -> dict:
    """The report of a structurally valid submission (raises :class:`SubmissionError` otherwise)."""
    preds = check_predictions(sub, stage, gold)
    n = len(preds)
    correct = sum(p == y for p, y in zip(preds, gold.labels))
    accuracy = 100.0 * correct / n
    lo, hi = (100 * x for x in wilson_interval(correct, n))
    messages, claimed = [], sub.get("claimed_accuracy")
    if claimed is not None and (isinstance(claimed, bool) or not isinstance(claimed, (int, float))
                                or not math.isfinite(claimed)):
        messages.append(f"claimed_accuracy {_describe(claimed)} is not a number (percent); it was ignored")
        claimed = None
    elif claimed is not None and abs(claimed - accuracy) > CLAIM_TOLERANCE:
        messages.append(f"claimed_accuracy {claimed:g} differs from the recomputed {accuracy:.4f} by "
                        f"{abs(claimed - accuracy):.2f} points; only the recomputed value counts (did you claim a "
                        "fraction instead of a percent, or evaluate other predictions than you submitted?)")
    copied = gold.public and correct == n
    implausible = stage.flag_above is not None and accuracy > stage.flag_above
    flagged = copied or implausible
    passed = stage.passed(accuracy) and not flagged
    points = 0.0 if flagged else stage.score(accuracy)
    if copied:
        messages.append(f"FLAGGED: the predictions equal the public gold labels of {stage.dataset}/{stage.split} "
                        f"exactly; no model does that. {_PENDING_REVIEW}")
    elif implausible:
        messages.append(f"FLAGGED: {accuracy:.2f}% on {stage.dataset}/{stage.split} is above {stage.flag_above:g}%, "
                        "more than the best published models reach; labels copied from a public source (with a few "
                        f"flipped) do that. {_PENDING_REVIEW}")
    report = {"stage": stage.name, "n": n, "correct": correct, "accuracy": round(accuracy, 4),
              "interval": [round(lo, 4), round(hi, 4)], "claimed_accuracy": claimed, "target": stage.target,
              "tolerance": stage.tolerance, "kind": stage.kind, "target_text": stage.describe_target(),
              "passed": passed, "flagged": flagged, "score": points, "max_score": float(stage.points),
              "how_to_improve": "Flagged: no score until reviewed." if flagged else stage.advice(accuracy, n),
              "gold": gold.source, "messages": messages}
    profile = sub.get("profile")
    note = profile_note(stage, _describe(profile) if profile is not None and not isinstance(profile, str)
                        else plain_text((profile or "")[:40]))
    if not passed and not flagged and isinstance(profile, str) and profile.startswith("offline") \
            and stage.name in OFFLINE_CANNOT_PASS:
        report["how_to_improve"] = offline_advice(stage)  # said once, where the advice would stand
        messages.insert(0, f"profile: {plain_text(profile[:40])}")
    else:
        messages.insert(0, note)
    report.update({k: sub[k] if isinstance(sub[k], (int, float)) and not isinstance(sub[k], bool)
                   and math.isfinite(sub[k]) else plain_text(str(sub[k])[:200]) for k in _SHOWN_FIELDS if sub.get(k) is not None})
    report["exit_code"] = EXIT_PASSED if passed else EXIT_FAILED
    return report


def invalid(stage_name: str, message: str, **extra) -> dict:
    return {"stage": stage_name, "passed": False, "flagged": False, "score": 0.0, "max_score": None,
            "accuracy": None, "messages": [f"INVALID: {message}"], **extra, "exit_code": EXIT_INVALID,
            "how_to_improve": "Fix the problem above and submit again; an invalid submission scores 0."}


def read_json_submission(path: Path) -> dict:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(f"{path.name} is {size / 2**20:.0f} MB; a submission is at most {MAX_BYTES // 2**20} MB "
                              "(one integer per example): write it with textclass.submission.write_submission")
    try:
        return load_submission(path)
    except SubmissionError as exc:
        if "not valid JSON" in str(exc) and path.suffix != ".json":
            raise SubmissionError(f"{path.name} is neither a submission.json nor a notebook (.ipynb): submit the "
                                  "submission.json your notebook wrote, or the notebook itself") from None
        raise


def summary(report: dict) -> str:
    """A few lines for the terminal."""
    lines = [f"stage {report['stage']}: "
             + ("INVALID" if report["exit_code"] == EXIT_INVALID else "PASSED" if report["passed"] else "NOT PASSED")]
    if report.get("accuracy") is not None:
        lo, hi = report["interval"]
        lines.append(f"  accuracy {report['accuracy']:.2f}% ({report['correct']}/{report['n']}), 95% CI "
                     f"[{lo:.2f}, {hi:.2f}]; target {report['target_text']}")
        lines.append(f"  score {report['score']:g}/{report['max_score']:g}")
    for ex in report.get("exercises", []):
        lines.append(f"  test {ex['grade_id']}: {ex['score']:g}/{ex['max_score']:g}"
                     + (f" -- {ex['message']}" if ex.get("message") else ""))
    lines += [f"  {m}" for m in report["messages"]]
    lines.append(f"  {report['how_to_improve']}")
    mode = report.get("isolation") or (report.get("sandbox") or {}).get("mode") or "not used (nothing was executed)"
    lines.append(f"  isolation: {mode}")
    if report.get("secret"):
        lines.append(f"  hidden cases: {report['secret']}")
    # a report read back from disk is learner data too; and each entry stays one line, so that a learner's
    # exception text cannot start a line of its own ("stage orientation: PASSED") inside the report
    return "\n".join(" \u23ce ".join(plain_text(line).splitlines()) for line in lines)


def write_report(report: dict, path) -> Path:
    return atomic_write_text(path, json.dumps(report, indent=1, allow_nan=False, default=str) + "\n")
