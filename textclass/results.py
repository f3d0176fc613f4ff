"""Result records: every number the book or README quotes comes from one of these JSON files.

One file per notebook and profile, ``results/<notebook>-<profile>.json``::

    {"notebook": ..., "profile": ..., "metrics": {"sst2_validation_accuracy": 81.2, ...},
     "command": ..., "commit": ..., "machine": ..., "date": ..., "seconds": ...,
     "predictions": {"sst2_validation_accuracy": {"dataset": "sst2", "split": "validation",
                                                   "predictions": [...]}}}

``predictions`` is optional; where present, the tests re-score the metric from it.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from textclass.config import REPO_ROOT, in_checkout, results_dir
from textclass.submission import atomic_write_text

_START_COMMIT: str | None = None


def git_commit() -> str:
    """The commit the *run* started from: taken once, when this module is first imported (a notebook's
    setup cell), so commits made while a long run is going do not end up in its record."""
    global _START_COMMIT
    if _START_COMMIT is None:
        _START_COMMIT = _current_commit()
    return _START_COMMIT


def _current_commit() -> str:
    if os.environ.get("TEXTCLASS_COMMIT"):  # a copy of the sources (a GPU machine's) says which commit it is
        return os.environ["TEXTCLASS_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        # the run's own outputs (executed notebooks, records) do not make the sources dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!book/executed", ":!results"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine(threads: int | None = None) -> str:
    """CPU model, cores, torch threads and GPU, e.g. ``x86_64 Intel Xeon ..., 2 cores, torch 2 threads, no GPU``.
    ``threads``: the count to report instead of this process's own (a runner describing its notebooks' runs)."""
    cpu = (_cpuinfo() or {}).get("model name") or platform.processor() or platform.machine()
    parts = [f"{platform.machine()} {cpu}", f"{os.cpu_count()} cores"]
    try:
        import torch

        parts.append(f"torch {torch.__version__} {threads or torch.get_num_threads()} threads")
        parts.append(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
    except ImportError:
        pass
    return ", ".join(parts)


def _cpuinfo() -> dict[str, str] | None:
    """The first CPU's fields in ``/proc/cpuinfo`` (``model name``, ``flags``, ...); None where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip(), value.strip())
    return fields


INT8_FLAGS = ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")   # /proc/cpuinfo names


def int8_instructions() -> list[str] | None:
    """The CPU's instruction sets that int8 matrix products can run on (``/proc/cpuinfo`` flags among
    :data:`INT8_FLAGS`), or None where there is no ``/proc/cpuinfo``. torch and onnxruntime pick their int8 kernels
    by these, and an int8 model's predictions can differ between CPUs that differ here (Level 5's chapter)."""
    info = _cpuinfo()
    if info is None:
        return None
    flags = info.get("flags", "").split()
    return [f for f in INT8_FLAGS if f in flags]


def provenance() -> dict:
    """Where and when a measurement is made: commit, machine, the CPU's int8 instructions, date (UTC). Result records
    and the benchmarks both start with it."""
    return {"commit": git_commit(), "machine": machine(), "int8_instructions": int8_instructions(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def _round(value) -> float:
    """4 decimals; small numbers (p-values) keep 4 significant digits instead of rounding to 0."""
    value = float(value)
    return float(f"{value:.4g}") if 0 < abs(value) < 0.01 else round(value, 4)


def _data_sources() -> dict:
    import sys

    data = sys.modules.get("textclass.data")
    return dict(getattr(data, "SOURCES", {}) or {})


def record(notebook: str, profile: str, metrics: dict, *, seconds: float, predictions: dict | None = None,
           details: dict | None = None, directory: str | os.PathLike | None = None) -> Path:
    """Write ``<directory>/<notebook>-<profile>.json`` and return its path."""
    for name, value in metrics.items():
        if not isinstance(value, (int, float)):
            raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
    rec = {
        "notebook": notebook,
        "profile": profile,
        "metrics": {k: _round(v) for k, v in metrics.items()},
        "command": os.environ.get("TEXTCLASS_COMMAND", f"jupyter (interactive) {notebook}"),
        **provenance(),
        "seconds": round(float(seconds), 1),
    }
    sources = _data_sources()
    if sources:  # where each dataset split came from (Hub endpoint + load_dataset call, or a local path)
        rec["data_sources"] = sources
    if details:
        rec["details"] = details
    if predictions:
        rec["predictions"] = predictions
    path = Path(directory or results_dir()) / f"{notebook}-{profile}.json"
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return path


CLOCK_READINGS = ("latency", "seconds", "_ms", "per_second", "speedup")   # parts of a metric's name that mark time


def untimed(metrics: dict) -> dict:
    """``metrics`` without the clock's readings (durations, rates, latencies and their ratios, speed-ups): those
    vary with the machine and its load; the rest -- accuracies, counts, every choice made on them -- is what a rerun
    of the same command must repeat."""
    return {k: v for k, v in metrics.items() if not any(mark in k for mark in CLOCK_READINGS)}


def load_records(directory: str | os.PathLike | None = None) -> list[dict]:
    directory = Path(directory or results_dir())
    return [json.loads(p.read_text(encoding="utf-8")) | {"_path": str(p)} for p in sorted(directory.glob("*.json"))]


def teacher_artifact(path: str | os.PathLike | None = None) -> Path | None:
    """The teacher's soft labels (Level 4's ``soft_labels_out``): ``path`` when given (not None or ``"auto"``; a bare
    name that is not in the working folder is looked up in the results folder, then in the checkout's), else
    the last ``teacher-*.npz`` by name in the results folder, then in the checkout's ``results/`` (a checkout ships the
    teacher's soft labels); None when there is none. By name, not by date (a fresh checkout's files all have one
    date), so ``teacher-mpnet.npz`` stays the default beside ``teacher-mpnet-30k.npz`` (which is read when given);
    a teacher of your own is taken only if its name sorts last: name it with ``teacher_soft_labels``. Level 5
    and ``scripts/distil_student.py`` both look here."""
    folders = [results_dir()] + ([REPO_ROOT / "results"] if in_checkout() else [])
    if path is not None and str(path) != "auto":
        given = Path(path)
        if given.exists() or given.is_absolute() or given.parent != Path("."):
            return given
        # a bare name: the results folder's, else the checkout's
        return next((Path(f) / given for f in folders if (Path(f) / given).exists()), given)
    for folder in dict.fromkeys(Path(f) for f in folders):
        found = sorted(folder.glob("teacher-*.npz"))
        if found:
            return found[-1]
    return None


git_commit()  # at import: the state of the sources when the run began
