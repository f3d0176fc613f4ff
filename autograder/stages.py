"""Every graded stage of the curriculum, declared in one place.

A stage says which dataset and split a submission predicts, how it is scored and what it must reach:

* ``target`` and ``tolerance`` (percentage points): ``band`` stages pass inside
  ``[target - tolerance, target + tolerance]`` (a reproduction must land near the published number, not
  above it); ``min`` stages pass at ``>= target`` (an improvement must beat it).
* ``points``: the stage's maximum score; partial credit falls linearly from full marks at the pass edge
  to zero ``zero_at`` points further away.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    dataset: str
    split: str
    target: float  # percent
    tolerance: float = 0.0  # percentage points (band stages)
    kind: str = "band"  # "band" or "min"
    metric: str = "accuracy"
    points: float = 10.0
    zero_at: float = 5.0  # percentage points beyond the pass edge where the score reaches 0
    source: str = ""  # where the target comes from

    def bounds(self) -> tuple[float, float]:
        if self.kind == "band":
            return self.target - self.tolerance, self.target + self.tolerance
        return self.target, float("inf")


STAGES: dict[str, Stage] = {s.name: s for s in [
    Stage("reproduce", "Reproduce DistilBERT on SST-2", "sst2", "validation", 91.3, 0.5,
          source="distilbert-base-uncased-finetuned-sst-2-english model card: 91.3 (verified 91.06 = 794/872)"),
    Stage("improve", "Beat 91.3% on SST-2 validation", "sst2", "validation", 91.3, kind="min",
          source="the seed challenge"),
]}


def get_stage(name: str) -> Stage:
    try:
        return STAGES[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known stages: {', '.join(STAGES)}") from None
