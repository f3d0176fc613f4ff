"""``python -m autograder export [--work WORK] [--out CSV]``: one CSV across stages (learner, stage, score, max,
accuracy, passed, flagged, status, exercises, and a total of the stage and its level's exercises), every
submitted string spreadsheet-safe."""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from autograder import first_paragraph
from autograder.batch import load_results
from autograder.checks._plain import as_float
from autograder.escape import csv_cell
from autograder.stages import get_stage
from autograder.workdir import DEFAULT_WORK, add_work_option, graded_dir, graded_stages
from textclass.submission import atomic_write_text

EXPORT_FIELDS = ("learner", "stage", "score", "max_score", "accuracy", "passed", "flagged", "status", "exercise_score",
                 "exercise_max", "total", "total_max", "graded_at")


def level_exercise_points(stage_name: str) -> float:
    """The points of the graded exercises of the stage's level (0 for a stage with no level): what a notebook can
    add to the stage's score, and what a submission.json alone, which has no exercises, forgoes."""
    import nbformat

    from autograder.notebook import graded_cells, solution_path

    from autograder.stages import STAGES

    level = get_stage(stage_name).level
    if not level or next(s for s in STAGES.values() if s.level == level).name != stage_name:
        return 0.0   # no level, or not its first stage: a level's exercises count once (embeddings has two stages)
    try:
        return float(sum(g.points for g in graded_cells(nbformat.read(solution_path(level), as_version=4))))
    except (OSError, KeyError, ValueError):
        return 0.0


def status(report: dict) -> str:
    code = report.get("exit_code")
    if report.get("flagged"):
        return "flagged"
    return {0: "passed", 1: "not passed", 2: "invalid"}.get(code, "grader error")


def export(work=DEFAULT_WORK, out=None) -> dict:
    """One CSV across stages: learner, stage, score, max_score, accuracy, passed (+ flagged, status, exercises)."""
    work = Path(work)
    rows = []
    for stage in graded_stages(work):
        exercise_points = level_exercise_points(stage)
        for r in load_results(graded_dir(work, stage)):
            score = r.get("score") or 0.0
            top = r.get("max_score") if r.get("max_score") is not None else get_stage(stage).points
            # none: no notebook graded (a submission.json), or the run stopped before the checks
            exercises = as_float(r.get("exercise_score")) or 0.0
            ex_max = as_float(r.get("exercise_max")) or exercise_points   # else what the level's notebook adds
            if not exercise_points:   # no level, or not its first stage: its exercises count in one row only
                exercises, ex_max = 0.0, 0.0
            rows.append({"learner": r["learner"], "stage": stage, "score": score, "max_score": top,
                         "accuracy": "" if r.get("accuracy") is None else r["accuracy"],
                         "passed": bool(r.get("passed")), "flagged": bool(r.get("flagged")), "status": status(r),
                         "exercise_score": r.get("exercise_score", ""), "exercise_max": r.get("exercise_max", ""),
                         "total": round(float(score) + exercises, 4),
                         "total_max": round(float(top) + ex_max, 4),
                         "graded_at": r.get("graded_at", "")})
    rows.sort(key=lambda r: (r["learner"], r["stage"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: csv_cell(v) for k, v in r.items()} for r in rows])
    path = atomic_write_text(Path(out) if out else work / "grades.csv", buffer.getvalue())
    return {"rows": len(rows), "csv": str(path)}




def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder export", description=first_paragraph(__doc__))
    add_work_option(parser)
    parser.add_argument("--out", help="CSV path (default WORK/grades.csv)")
    args = parser.parse_args(argv)
    if not (Path(args.work) / "graded").is_dir():
        print(f"export: {args.work}/graded/ does not exist: grade a class first (python -m autograder grade "
              f"{args.work}/submitted/STAGE --stage STAGE --out {args.work}/graded/STAGE), or pass --work", file=sys.stderr)
        return 2
    r = export(args.work, args.out)
    print(f"wrote {r['csv']}: {r['rows']} row(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
