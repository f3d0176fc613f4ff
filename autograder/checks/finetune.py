"""Checks for the Fine-tuning level (solutions/finetune/finetune.ipynb)."""
from __future__ import annotations

from autograder.checks import CheckResult, safe_call

# Hyperparameter runs as the notebook produces them: the held-out slice of *train* picks, validation only reports.
_RUNS = [
    {"config": {"lr": 2e-5, "epochs": 1}, "heldout_accuracy": 84.0, "validation_accuracy": 86.1},
    {"config": {"lr": 5e-5, "epochs": 1}, "heldout_accuracy": 86.5, "validation_accuracy": 85.2},
    {"config": {"lr": 1e-4, "epochs": 1}, "heldout_accuracy": 81.0, "validation_accuracy": 87.0},
]
_TIED = [
    {"config": {"lr": 3e-5}, "heldout_accuracy": 88.0, "validation_accuracy": 84.0},
    {"config": {"lr": 5e-5}, "heldout_accuracy": 88.0, "validation_accuracy": 89.0},
    {"config": {"lr": 1e-4}, "heldout_accuracy": 80.0, "validation_accuracy": 90.0},
]


def check_choose_by_heldout(choose_by_heldout) -> CheckResult:
    r = CheckResult("choosing hyperparameters on the held-out slice (choose_by_heldout)", 10)
    ok, out = safe_call(r, "picks the run with the best held-out accuracy", 5, choose_by_heldout, [dict(x) for x in _RUNS])
    if ok:
        r.add("picks the run with the best held-out accuracy", out is _RUNS[1] or out == _RUNS[1], 5,
              f"got {out!r}; the held-out slice of train decides (lr 5e-5), never validation"
              + (" -- you chose by validation accuracy: that tunes on the test set" if out == _RUNS[2] else ""))
    ok, out = safe_call(r, "on a held-out tie keeps the earliest run (and ignores validation)", 3,
                        choose_by_heldout, [dict(x) for x in _TIED])
    if ok:
        r.add("on a held-out tie keeps the earliest run (and ignores validation)", out == _TIED[0], 3,
              f"got {out!r}; ties go to the first run in the list, whatever its validation accuracy")
    try:
        choose_by_heldout([])
        r.add("an empty list raises ValueError", False, 2, "raise ValueError when there are no runs")
    except ValueError:
        r.add("an empty list raises ValueError", True, 2)
    except Exception as exc:  # noqa: BLE001
        r.add("an empty list raises ValueError", False, 2, f"raised {type(exc).__name__}, expected ValueError")
    return r
