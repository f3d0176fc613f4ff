"""``leaderboard``: a Markdown table of graded results (recomputed accuracy only; invalid or flagged
submissions are left out)."""
from __future__ import annotations

from pathlib import Path

import argparse
import sys

from autograder import first_paragraph
from autograder.batch import load_results
from autograder.escape import md_cell
from autograder.workdir import DEFAULT_WORK, graded_dir, graded_stages
from textclass.submission import atomic_write_text

HEADER = ("rank", "learner (team)", "stage", "accuracy (%)", "model", "parameters", "latency (ms)", "date")


def _cell(value) -> str:
    """A submitted string as one Markdown cell: HTML-escaped, no pipes, links or emphasis (see escape.md_cell)."""
    return md_cell(value)


def _reports(results_dirs) -> list[dict]:
    """Every report of one results folder or several (a stage's each), named by its file in its own folder."""
    dirs = [results_dirs] if isinstance(results_dirs, (str, Path)) else list(results_dirs)
    reports = []
    for d in dirs:
        if not Path(d).is_dir():
            raise ValueError(f"{d}: no such results folder (give the --out folder of a class run, or --work)")
        reports += load_results(d)
    if not reports:
        raise ValueError(f"{', '.join(map(str, dirs))}: no graded reports here (a class run's --out folder holds "
                         "<learner>.json reports); nothing written")
    return reports


def rows(results_dir) -> list[dict]:
    """Best valid result per learner and stage, best first (see ``_merit``). The learner is the grader's name for
    the submission (its file in the class folder); a ``team`` the submission names is its own claim, shown beside
    the learner, never used as the identity (else anyone could replace a classmate's row)."""
    best = {}
    for r in _reports(results_dir):
        if r.get("exit_code") not in (0, 1) or r.get("flagged") or r.get("accuracy") is None:
            continue
        key = (r["learner"], r["stage"])
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
    return _render(rows(results_dir))


def _render(ranked: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    previous, rank, seen = None, 0, {}
    for r in ranked:
        seen[r["stage"]] = seen.get(r["stage"], 0) + 1
        if (r["stage"],) + _merit(r) != previous:  # ties share a rank
            rank = seen[r["stage"]]
        previous = (r["stage"],) + _merit(r)
        date = str(r.get("graded_at") or r.get("created") or "")[:10]   # the grader's date, not the submitted one
        who = r["learner"] + (f" ({r['team']})" if r.get("team") else "")
        lines.append("| " + " | ".join(_cell(v) for v in (
            rank, who, r["stage"], f"{r['accuracy']:.2f}", r.get("model"),
            r.get("parameters"), r.get("latency_ms"), date)) + " |")
    return "# Leaderboard\n\nAccuracy recomputed by the autograder from each submission's predictions. Ranked by " \
        "score; on a reproduction stage, ties go to the result closest to the published number.\n\n" \
        + "\n".join(lines) + "\n"


def write_leaderboard(results_dir, out=None) -> str:
    """Render the board of one results folder (or a list of them) and write it to ``out``; a folder that does not
    exist or holds no report is a ValueError, so a mistyped path never blanks a published board; so is writing a
    board with no rankable result (every report invalid, flagged or a grader error) over ``out``."""
    ranked = rows(results_dir)
    if out and not ranked:
        raise ValueError(f"no valid graded result to rank (every report is invalid, flagged or a grader error): "
                         f"{out} left as it was")
    text = _render(ranked)
    if out:
        atomic_write_text(Path(out), text)
    return text


def leaderboard(work=DEFAULT_WORK, out=None) -> str:
    """:func:`autograder.leaderboard.write_leaderboard` over every graded stage of ``work``."""
    stages = graded_stages(work)
    if not stages:
        raise ValueError(f"{Path(work) / 'graded'}: nothing graded yet; run the autograde step first")
    return write_leaderboard([graded_dir(work, stage) for stage in stages], out)



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder leaderboard", description=first_paragraph(__doc__))
    parser.add_argument("results_dir", nargs="?", help="a results folder (grade --out); default: every graded stage "
                        "of --work")
    parser.add_argument("--work", default=DEFAULT_WORK, help=f"the grading folder (default {DEFAULT_WORK}/)")
    parser.add_argument("--out", help="write the Markdown here (e.g. book/leaderboard.md); default: print it")
    args = parser.parse_args(argv)
    try:
        text = write_leaderboard(args.results_dir, args.out) if args.results_dir else leaderboard(args.work, args.out)
    except (ValueError, OSError) as exc:
        print(f"autograder leaderboard: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}" if args.out else text.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
