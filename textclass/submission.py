"""The ``submission.json`` format that notebooks write and the autograder reads.

Required fields:

* ``stage``            -- an autograder stage, e.g. ``"reproduce"``
* ``dataset``          -- e.g. ``"sst2"``
* ``split``            -- e.g. ``"validation"``
* ``model``            -- what produced the predictions (free text)
* ``predictions``      -- one integer label per example, in ``idx`` order
* ``claimed_accuracy`` -- the accuracy (percent) the learner believes they got; only ever compared

Optional: ``learner``, ``profile``, ``parameters`` (model size), ``latency_ms``, ``notes``, ``created``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

REQUIRED = ("stage", "dataset", "split", "model", "predictions", "claimed_accuracy")


class SubmissionError(ValueError):
    """The submission is not a valid submission; the message says what is wrong and how to fix it."""


def make_submission(*, stage: str, dataset: str, split: str, model: str, predictions, claimed_accuracy: float,
                    **extra) -> dict:
    preds = [int(p) for p in predictions]
    sub = {"stage": stage, "dataset": dataset, "split": split, "model": str(model), "predictions": preds,
           "claimed_accuracy": None if claimed_accuracy is None else round(float(claimed_accuracy), 4),
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    sub.update({k: v for k, v in extra.items() if v is not None})
    return sub


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask sets while it reads: a thread
    creating a file meanwhile, as a class folder's grading may, would get no mask at all)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere: set a strict mask for the instant of the read
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide a report or a submission from its readers
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_submission(path: str | os.PathLike, submission: dict) -> Path:
    missing = [k for k in REQUIRED if k not in submission]
    if missing:
        raise SubmissionError(f"submission lacks {', '.join(missing)}; build it with make_submission(...)")
    return atomic_write_text(path, json.dumps(submission, indent=1) + "\n")


def load_submission(path: str | os.PathLike) -> dict:
    """Parse a submission file; structural problems raise :class:`SubmissionError` with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise SubmissionError(f"{path}: the file is empty; write it with textclass.submission.write_submission")
    try:
        sub = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"{path}: not valid JSON ({exc}); write it with textclass.submission.write_submission")
    except (ValueError, RecursionError) as exc:   # an integer of thousands of digits; arrays nested too deep
        raise SubmissionError(f"{path}: not a submission ({type(exc).__name__}: {str(exc)[:80]}); write it with "
                              "textclass.submission.write_submission") from None
    if not isinstance(sub, dict):
        raise SubmissionError(f"{path}: expected a JSON object with the fields {', '.join(REQUIRED)}")
    missing = [k for k in REQUIRED if k not in sub]
    if missing:
        raise SubmissionError(f"{path}: missing field(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    return sub
