"""``python -m tools regenerate [LEVEL ...]``: student notebooks ``notebooks/<level>/`` from ``solutions/`` (nbgrader).

The one implementation of nbgrader's ``generate_assignment`` for the course: ``./course regenerate`` and the
instructor's release call :func:`generate`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import first_paragraph
from tools import REPO_ROOT, UsageError


def _nbgrader() -> str:
    local = Path(sys.executable).parent / "nbgrader"
    return str(local) if local.exists() else (shutil.which("nbgrader") or "nbgrader")


def generate(level_ids, release_dir=None, db_dir=None) -> list[Path]:
    """nbgrader generate_assignment for each level (with the repository's nbgrader_config.py); into
    ``release_dir`` when given, else the configured ``notebooks/``. Returns the student notebooks."""
    from tools.curriculum import get_level

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    out = []
    for level_id in level_ids:
        level = get_level(level_id)
        cmd = [_nbgrader(), "generate_assignment", level.id, "--force", "--log-level=ERROR"]
        if release_dir is not None:
            cmd.append(f"--CourseDirectory.release_directory={Path(release_dir).resolve()}")
        if db_dir is not None:
            cmd.append(f"--CourseDirectory.db_url=sqlite:///{Path(db_dir).resolve() / 'gradebook.db'}")
        else:
            (REPO_ROOT / ".nbgrader").mkdir(exist_ok=True)
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {level.id} failed:\n{proc.stderr[-2000:]}")
        out.append((Path(release_dir) if release_dir is not None else level.student.parent.parent)
                   / level.id / f"{level.notebook}.ipynb")
    return out


def main(argv=None) -> int:
    from tools.curriculum import levels

    ap = argparse.ArgumentParser(prog="python -m tools regenerate", description=first_paragraph(__doc__).split(": ", 1)[1])
    ap.add_argument("levels", nargs="*", help="level ids (default: all)")
    args = ap.parse_args(argv)
    known = [lv.id for lv in levels()]
    try:
        unknown = [i for i in args.levels if i not in known]
        if unknown:
            raise UsageError(f"unknown level {', '.join(map(repr, unknown))}. Known levels: {', '.join(known)}.")
        for path in generate(args.levels or known):
            print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    except UsageError as exc:
        print(f"regenerate: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"regenerate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
