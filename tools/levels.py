"""``python -m tools levels``: the levels of curriculum.yml with the time each took in the records."""
from __future__ import annotations

import argparse
import json
import sys

from autograder import first_paragraph
from tools import REPO_ROOT
from tools.curriculum import stage_of_levels


def rows(results=None) -> list[dict]:
    from tools.curriculum import levels

    out = []
    for lv in levels():
        small, small_rec = lv.recorded_seconds("small", results)
        full, full_rec = lv.recorded_seconds("full", results)
        out.append({"id": lv.id, "level": lv.level, "title": lv.title, "minutes_planned": lv.minutes,
                    "small_seconds": small if small_rec.endswith("-small.json") else None,
                    "full_seconds": full if full_rec.endswith("-full.json") else None,
                    "full_record": f"results/{full_rec}" if full_rec.endswith("-full.json") else ""})
    return out


def main(argv=None) -> int:
    from tools.run import _fmt_seconds

    ap = argparse.ArgumentParser(prog="python -m tools levels", description=first_paragraph(__doc__).split(": ", 1)[1])
    ap.add_argument("--results", default=str(REPO_ROOT / "results"), help="records folder (default results/)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--ids", action="store_true", help="print only the level ids, one line (for scripts)")
    ap.add_argument("--cheapest", action="store_true", help="with --ids: only the level with the fewest minutes")
    ap.add_argument("--stages", action="store_true", help="print 'level stage' for each graded level: the stage "
                    "(autograder/stages.py) that grades the level's submission.json")
    args = ap.parse_args(argv)
    if args.ids:
        from tools.curriculum import levels

        chosen = levels()
        if args.cheapest:
            chosen = [min(chosen, key=lambda lv: lv.minutes)]
        print(" ".join(lv.id for lv in chosen))
        return 0
    if args.stages:
        for level, stage in stage_of_levels().items():
            print(level, stage)
        return 0
    table = rows(args.results)
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    print(f"{'id':12s} lvl  {'small':>9s} {'full':>9s}  title   (times: 'wall_seconds', else 'seconds', of results/<level>-<profile>-<size>.json)")
    for r in table:
        print(f"{r['id']:12s} {r['level']:>3}  {_fmt_seconds(r['small_seconds']) if r['small_seconds'] else '-':>9s} "
              f"{_fmt_seconds(r['full_seconds']) if r['full_seconds'] else '-':>9s}  {r['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
