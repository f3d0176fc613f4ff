"""Re-score result records: every accuracy a record quotes is recomputed from its saved predictions.

A record (``textclass.results.record``) may carry, per metric::

    {"dataset": "sst2", "split": "validation", "predictions": [...]}                  # the first len(...) rows
    {"dataset": "sst2", "split": "train", "indices": [...], "predictions": [...]}     # the rows named

``python -m autograder rescore results/*.json`` (a maintainer's check) prints each metric next to its recomputed value and exits 1
when one differs by more than 0.001 points.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


_LOCAL_GOLD: dict = {}  # (file, digest of its bytes) -> its labels: the course's records re-score on a few splits


def _gold(dataset: str, split: str, profile: str) -> np.ndarray:
    """The labels of ``dataset``/``split``; a local file's are parsed once per process and content (SST-2 train takes
    seconds, and the tests re-score every record in results/), so a file that changes is read again."""
    import hashlib

    from textclass import config, data

    path = data.local_path(dataset, split) if config.resolve_profile(profile) == "offline" else None
    key = (str(path), hashlib.blake2b(path.read_bytes()).hexdigest()) if path else None
    if key not in _LOCAL_GOLD:
        labels = np.array(data.load_split(dataset, split, profile=profile)["label"])
        labels.setflags(write=False)
        if key is None:
            return labels
        _LOCAL_GOLD[key] = labels
    return _LOCAL_GOLD[key]


def rescore(rec: dict, *, profile: str = "offline") -> dict[str, float]:
    """``{metric: accuracy recomputed from the gold labels}`` for every metric with saved predictions."""
    out, labels = {}, {}
    for metric, saved in rec.get("predictions", {}).items():
        where = (saved["dataset"], saved["split"])
        if where not in labels:  # a record quotes many metrics on the same split: read its labels once
            labels[where] = _gold(*where, profile)
        gold = labels[where]
        preds = np.asarray(saved["predictions"])
        if "indices" in saved:
            idx = np.asarray(saved["indices"], dtype=int)
            if len(idx) != len(preds) or (len(idx) and (idx.min() < 0 or idx.max() >= len(gold))):
                raise ValueError(f"{metric}: {len(idx)} indices for {len(preds)} predictions, or an index "
                                 f"outside the {len(gold)} rows of {saved['dataset']}/{saved['split']}")
            gold = gold[idx]
        elif len(preds) > len(gold):
            raise ValueError(f"{metric}: {len(preds)} predictions for {len(gold)} rows")
        else:
            gold = gold[:len(preds)]
        if (gold < 0).any():
            raise ValueError(f"{metric}: {saved['dataset']}/{saved['split']} has no public labels to re-score with")
        out[metric] = 100 * float((preds == gold).mean())
    return out


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder rescore",
        description="Maintainer check: recompute every accuracy a result record (results/*.json) quotes from its "
                    "saved predictions; exit 1 when one differs by more than 0.001 points, 2 when a record cannot "
                    "be read. It re-scores the course's records, not learners' submissions (grade does those).")
    parser.add_argument("records", nargs="+", metavar="RECORD", help="result records, e.g. results/*.json")
    parser.add_argument("--profile", default="offline", help="where the gold labels come from (default offline)")
    args = parser.parse_args(argv)
    bad = 0
    for path in map(Path, args.records):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rec, dict) or not isinstance(rec.get("metrics"), dict):
                raise ValueError("not a result record (no 'metrics' object)")
            scored = rescore(rec, profile=args.profile)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"rescore: {path}: {exc} -- pass result records written by textclass.results.record "
                  "(results/*.json)", file=sys.stderr)
            return 2
        for metric, value in scored.items():
            claimed = rec["metrics"].get(metric)
            ok = isinstance(claimed, (int, float)) and abs(claimed - value) <= 1e-3
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} {path.name}: {metric} recorded {claimed} re-scored {value:.4f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
