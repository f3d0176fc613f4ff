"""``python -m autograder collect INBOX --stage S [--work WORK]``: validate a folder of submissions
(``INBOX/<learner>/submission.json|*.ipynb`` or ``INBOX/<learner>.json|.ipynb``) and copy the valid ones to
``WORK/submitted/<stage>/`` (the inbox is only read; symbolic links, FIFOs and devices are never followed or
copied); ``WORK/collected-<stage>.csv`` lists every entry, accepted or not (spreadsheet-safe). A learner's new
submission replaces their earlier one, which moves to ``WORK/submitted/.history/<stage>/<time>/``; learners
absent from the inbox keep theirs: nothing collected is ever lost."""
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


def _learner_of(entry: Path) -> str:
    return (entry.name if _kind(entry) == "dir" else entry.stem).lower()


def collect(inbox, stage: str, work=DEFAULT_WORK) -> dict:
    """Validate the inbox's entries and copy the valid ones into ``WORK/submitted/<stage>/`` (the inbox is never
    written). A learner already there is replaced, and their earlier submission moves to
    ``WORK/submitted/.history/<stage>/<UTC time>/`` (unless it is the same bytes); learners not in the inbox keep
    theirs. ``WORK/collected-<stage>.csv`` lists every inbox entry, accepted or not."""
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
    submitted = work / "submitted"
    submitted.mkdir(parents=True, exist_ok=True)
    with open(submitted / f".{stage}.lock", "w") as lock:
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX)   # one collect of a stage at a time
        rows, kept, archived = _collect_locked(entries, problems, submitted, stage)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["entry"], lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: csv_cell(v) for k, v in r.items()} for r in rows])
    manifest = atomic_write_text(work / f"collected-{stage}.csv", buffer.getvalue())
    return {"accepted": sum(r["accepted"] for r in rows), "rejected": [f"{r['entry']}: {r['problem']}"
                                                                       for r in rows if not r["accepted"]],
            "snapshot": str(submitted / stage), "manifest": str(manifest), "kept": kept, "archived": archived,
            "history": str(submitted / ".history" / stage) if archived else ""}


def _copy(src: Path, dst: Path) -> None:
    if _kind(src) == "dir":
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _collect_locked(entries, problems, submitted: Path, stage: str):
    """Build the new snapshot beside the old one and swap them: the inbox's accepted entries, plus a copy of every
    earlier entry of a learner with no accepted entry in this inbox; a replaced entry is copied to
    ``.history/<stage>/<time>/`` first. Nothing is moved out of the old snapshot before the swap, and a swap that
    was interrupted is finished or undone by the next collect, so an interruption loses nothing."""
    snapshot, tmp, old_dir = submitted / stage, submitted / f".{stage}.tmp", submitted / f".{stage}.old"
    if old_dir.exists():   # an interrupted swap: the old snapshot was set aside and the new one not yet in place
        if not snapshot.exists():
            os.replace(old_dir, snapshot)
        else:
            shutil.rmtree(old_dir)
    shutil.rmtree(tmp, ignore_errors=True)   # only ever copies
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
                if not files:   # nothing to grade: not accepted, and it does not replace an earlier entry
                    shutil.rmtree(tmp / p.name)
                    problem = "no regular file inside (only links or special files): submit the files themselves"
                else:           # what grade would refuse (two notebooks, nothing to grade) is refused now
                    refused = _refused_by_grade(tmp / p.name)
                    if refused:
                        shutil.rmtree(tmp / p.name)
                        files, problem = [], f"not accepted, grade would refuse it: {refused}"
            else:
                shutil.copy2(p, tmp / p.name)
                files = [p]
        rows.append({"entry": p.name, "learner": "" if problem and not files else
                     (p.name if _kind(p) == "dir" else p.stem), "accepted": bool(files),
                     "files": len(files), "bytes": sum(f.stat().st_size for f in files),
                     "sha256": _sha256(files[0]) if len(files) == 1 else
                     hashlib.sha256("".join(_sha256(f) for f in files).encode()).hexdigest() if files else "",
                     "problem": problem})
    new_learners = {_learner_of(q) for q in tmp.iterdir()}
    kept, archived = 0, []
    if snapshot.is_dir():
        import datetime

        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        history = submitted / ".history" / stage / stamp
        for old in sorted(snapshot.iterdir()):
            if _learner_of(old) not in new_learners:
                _copy(old, tmp / old.name)
                kept += 1
            elif not _same_entry(old, tmp / old.name):
                history.mkdir(parents=True, exist_ok=True)
                _copy(old, history / old.name)
                archived.append(old.name)
        os.replace(snapshot, old_dir)
    os.replace(tmp, snapshot)
    shutil.rmtree(old_dir, ignore_errors=True)
    return rows, kept, archived


def _refused_by_grade(folder: Path) -> str:
    """Why ``grade`` would refuse the collected ``folder`` at once ('' when it would grade it): the same rule,
    :func:`autograder.trusted.locate`, so that a learner can be told before grading day."""
    from autograder.trusted import locate
    from textclass.submission import SubmissionError

    try:
        locate(folder)
    except SubmissionError as exc:
        return str(exc)
    return ""


def _same_entry(a: Path, b: Path) -> bool:
    """Two submissions (files or folders) with the same name and the same bytes."""
    if not b.exists() and not b.is_symlink():
        return False
    if _kind(a) != _kind(b):
        return False
    if _kind(a) == "file":
        return _sha256(a) == _sha256(b)
    files = lambda root: sorted(str(q.relative_to(root)) for q in root.rglob("*") if _kind(q) == "file")  # noqa: E731
    fa, fb = files(a), files(b)
    return fa == fb and all(_sha256(a / f) == _sha256(b / f) for f in fa)




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
    if result["kept"]:
        print(f"  kept {result['kept']} earlier submission(s) of learners with no accepted entry in this inbox")
    if result["archived"]:
        print(f"  replaced {len(result['archived'])} earlier submission(s); the earlier versions are in {result['history']}")
    for line in result["rejected"]:
        print(f"  REJECTED {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
