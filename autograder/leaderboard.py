"""``leaderboard``: a Markdown table of graded results (recomputed accuracy only; invalid or flagged
submissions are left out)."""
from __future__ import annotations

from pathlib import Path

from autograder.batch import load_results
from textclass.submission import atomic_write_text

HEADER = ("rank", "learner or team", "stage", "accuracy (%)", "model", "parameters", "latency (ms)", "date")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:80]


def rows(results_dir) -> list[dict]:
    """Best valid result per learner (or team) and stage, best first (see ``_merit``)."""
    best = {}
    for r in load_results(results_dir):
        if r.get("exit_code") not in (0, 1) or r.get("flagged") or r.get("accuracy") is None:
            continue
        key = (r.get("team") or r["learner"], r["stage"])
        if key not in best or _merit(r) < _merit(best[key]):
            best[key] = r
    return sorted(best.values(), key=lambda r: (r["stage"],) + _merit(r) + (r["learner"],))


def _merit(r) -> tuple:
    """Sort key within a stage: higher score first; then, for a reproduction (band) stage, closer to the
    published number (overshooting it is not better), otherwise higher accuracy."""
    from autograder.stages import STAGES

    stage = STAGES.get(r["stage"])
    closeness = abs(r["accuracy"] - stage.target) if stage is not None and stage.kind == "band" else -r["accuracy"]
    return (-float(r.get("score") or 0), closeness)


def render(results_dir) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    previous, rank, seen = None, 0, {}
    for r in rows(results_dir):
        seen[r["stage"]] = seen.get(r["stage"], 0) + 1
        if (r["stage"],) + _merit(r) != previous:  # ties share a rank
            rank = seen[r["stage"]]
        previous = (r["stage"],) + _merit(r)
        date = str(r.get("created") or r.get("graded_at") or "")[:10]
        lines.append("| " + " | ".join(_cell(v) for v in (
            rank, r.get("team") or r["learner"], r["stage"], f"{r['accuracy']:.2f}", r.get("model"),
            r.get("parameters"), r.get("latency_ms"), date)) + " |")
    return "# Leaderboard\n\nAccuracy recomputed by the autograder from each submission's predictions. Ranked by " \
        "score; on a reproduction stage, ties go to the result closest to the published number.\n\n" \
        + "\n".join(lines) + "\n"


def write_leaderboard(results_dir, out=None) -> str:
    text = render(results_dir)
    if out:
        atomic_write_text(Path(out), text)
    return text
