"""``python -m autograder collect INBOX --stage S [--work WORK]``: validate a folder of submissions
(``INBOX/<learner>/submission.json|*.ipynb`` or ``INBOX/<learner>.json|.ipynb``) and copy the valid ones to
``WORK/submitted/<stage>/`` (the inbox is only read; symbolic links, FIFOs and devices are never followed or
copied); ``WORK/collected-<stage>.csv`` lists every entry, accepted or not (spreadsheet-safe)."""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import shutil
import stat
import sys
from pathlib import Path

from autograder import first_paragraph
from autograder.batch import learner_name
from autograder.escape import csv_cell
from autograder.stages import STAGES, get_stage
from autograder.workdir import DEFAULT_WORK, add_work_option
from textclass.submission import atomic_write_text

SUBMISSION_SUFFIXES = (".json", ".ipynb")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_IGNORED = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}


def _kind(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    return "link" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) \
        else "special"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_entry(path: Path) -> str:
    """'' when ``path`` (an inbox entry) is a submission with a valid learner name, else the problem."""
    kind = _kind(path)
    if kind == "link":
        return "a symbolic link: submit the file itself"
    if kind == "special":
        return "not a regular file (a FIFO, socket or device): submit the file itself"
    stem = path.name if kind == "dir" else path.stem
    if kind == "file" and path.suffix not in SUBMISSION_SUFFIXES:
        return f"not a submission ({path.suffix or 'no extension'}): expected <learner>.json, <learner>.ipynb or a " \
               "<learner>/ folder"
    if kind not in ("dir", "file"):
        return "neither a file nor a folder"
    if not _NAME.fullmatch(stem) or learner_name(path) != stem:
        return f"learner name {stem!r} is not valid (letters, digits, '_', '-', '.'; at most 100; no spaces): " \
               f"rename it, e.g. to {learner_name(path).strip('._-') or 'learner'!r}"
    return ""


def collect(inbox, stage: str, work=DEFAULT_WORK) -> dict:
    """Validate the inbox's entries and copy the valid ones to ``WORK/submitted/<stage>/`` (a fresh snapshot;
    the inbox is never written). ``WORK/collected-<stage>.csv`` lists every entry, accepted or not."""
    get_stage(stage)
    inbox, work = Path(inbox), Path(work)
    if not inbox.is_dir():
        raise ValueError(f"{inbox}: no such folder (collect takes a folder of submissions)")
    if work.resolve() == inbox.resolve() or work.resolve().is_relative_to(inbox.resolve()):
        raise ValueError(f"the grading folder {work} must not be inside the inbox {inbox}")
    entries = sorted(p for p in inbox.iterdir() if p.name not in _IGNORED)
    problems = {p: check_entry(p) for p in entries}
    by_learner: dict[str, list[Path]] = {}
    for p in entries:
        if not problems[p]:
            by_learner.setdefault((p.name if _kind(p) == "dir" else p.stem).lower(), []).append(p)
    for same in by_learner.values():
        if len(same) > 1:
            for p in same:
                problems[p] = "more than one submission for this learner (" + ", ".join(q.name for q in same) + \
                              "): keep one"
    snapshot = work / "submitted" / stage
    tmp = work / "submitted" / f".{stage}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rows = []
    for p in entries:
        problem, files = problems[p], []
        if not problem:
            if _kind(p) == "dir":
                inside = [Path(d) / n for d, dirs, names in os.walk(p, followlinks=False) for n in dirs + names]
                skipped = [q for q in inside if _kind(q) in ("link", "special")]
                shutil.copytree(p, tmp / p.name, symlinks=True,
                                ignore=lambda d, names: [n for n in names if _kind(Path(d) / n) in ("link", "special")])
                files = sorted(q for q in inside if _kind(q) == "file")
                if skipped:
                    problem = "accepted; symbolic links and special files inside were not collected: " + \
                              ", ".join(str(q.relative_to(p)) for q in skipped[:5])
            else:
                shutil.copy2(p, tmp / p.name)
                files = [p]
        rows.append({"entry": p.name, "learner": "" if problem and not files else
                     (p.name if _kind(p) == "dir" else p.stem), "accepted": bool(files),
                     "files": len(files), "bytes": sum(f.stat().st_size for f in files),
                     "sha256": _sha256(files[0]) if len(files) == 1 else
                     hashlib.sha256("".join(_sha256(f) for f in files).encode()).hexdigest() if files else "",
                     "problem": problem})
    shutil.rmtree(snapshot, ignore_errors=True)
    os.replace(tmp, snapshot)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["entry"], lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: csv_cell(v) for k, v in r.items()} for r in rows])
    manifest = atomic_write_text(work / f"collected-{stage}.csv", buffer.getvalue())
    return {"accepted": sum(r["accepted"] for r in rows), "rejected": [f"{r['entry']}: {r['problem']}"
                                                                       for r in rows if not r["accepted"]],
            "snapshot": str(snapshot), "manifest": str(manifest)}




def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder collect", description=first_paragraph(__doc__))
    parser.add_argument("inbox")
    parser.add_argument("--stage", required=True, choices=sorted(STAGES))
    add_work_option(parser)
    args = parser.parse_args(argv)
    try:
        result = collect(args.inbox, args.stage, args.work)
    except (ValueError, OSError) as exc:
        print(f"autograder collect: {exc}", file=sys.stderr)
        return 2
    print(f"collected {result['accepted']} submission(s) into {result['snapshot']} (manifest {result['manifest']})")
    for line in result["rejected"]:
        print(f"  REJECTED {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
