"""The instructor's workflow without a JupyterHub: ``python -m autograder.instructor <step> ...``.

One folder, ``WORK`` (default ``grading/``), holds a grading round; every step reads the previous step's
output and can be re-run (grading is resumable: unchanged submissions are not regraded).

=============  ==========================================================================================
step           what it does
=============  ==========================================================================================
``regenerate`` student notebooks ``notebooks/<level>/`` from ``solutions/`` (nbgrader generate_assignment),
               what ``./course regenerate`` does
``release``    the same, into ``OUT/<level>/`` plus ``OUT/<level>.zip`` to hand out; checks that no
               solution or hidden test leaked and says whether ``notebooks/`` is in sync
``sample``     realistic sample submissions for the ``reproduce`` stage, from the real SST-2 validation labels
``collect``    a folder of submissions (``INBOX/<learner>/submission.json|*.ipynb`` or
               ``INBOX/<learner>.json|.ipynb``): validates learner names, copies the valid ones to
               ``WORK/submitted/<stage>/`` (the inbox is only read), writes ``WORK/collected-<stage>.csv``
``autograde``  :func:`autograder.batch.grade_all` on ``WORK/submitted/<stage>/`` into ``WORK/graded/<stage>/``
``feedback``   ``WORK/feedback/<learner>/<stage>.md`` for every graded learner, checked for test source
``export``     ``WORK/grades.csv``: one row per learner and stage (learner, stage, score, max, accuracy, passed)
``leaderboard`` :func:`autograder.leaderboard.write_leaderboard` over every graded stage (``--out
               book/leaderboard.md``, then ``./course book``)
``all``        collect, autograde, feedback, export and leaderboard in one go
=============  ==========================================================================================
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.batch import feedback_markdown, grade_all, learner_name, load_results
from autograder.grade import load_gold
from autograder.leaderboard import rows as leaderboard_rows, write_leaderboard
from autograder.stages import STAGES, get_stage
from textclass.submission import atomic_write_text, make_submission, write_submission

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = "grading"
EXPORT_FIELDS = ("learner", "stage", "score", "max", "accuracy", "passed", "flagged", "status", "exercise_score",
                 "exercise_max", "graded_at")
SUBMISSION_SUFFIXES = (".json", ".ipynb")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_IGNORED = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}
# Never shown to a learner: test markers and the name prefix of every hidden check.
LEAK_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION", "check_")


def _say(*parts) -> None:
    print(*parts, flush=True)


# ------------------------------------------------------------------------------------ regenerate / release
def _nbgrader() -> str:
    local = Path(sys.executable).parent / "nbgrader"
    return str(local) if local.exists() else (shutil.which("nbgrader") or "nbgrader")


def generate(level_ids, release_dir=None, db_dir=None) -> list[Path]:
    """nbgrader generate_assignment for each level (with the repository's nbgrader_config.py); into
    ``release_dir`` when given, else the configured ``notebooks/``. Returns the student notebooks."""
    from tools.curriculum import get_level

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
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


def leaks(text: str) -> list[str]:
    return [m for m in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "grade(checks.") if m in text]


def _cells(path: Path) -> list:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in nb.cells]


def release(out, level_ids=None) -> list[dict]:
    """Student notebooks generated from solutions/ into ``out/<level>/``, zipped to ``out/<level>.zip``."""
    from tools.curriculum import get_level, levels

    out = Path(out)
    level_ids = list(level_ids or [lv.id for lv in levels()])
    out.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory(prefix="release-db-") as db:
        for level_id, notebook in zip(level_ids, generate(level_ids, out, db)):
            level = get_level(level_id)
            leaked = leaks(notebook.read_text(encoding="utf-8"))
            if leaked:
                raise RuntimeError(f"{notebook} contains {', '.join(leaked)}: check the nbgrader markers in "
                                   f"{level.solution}")
            archive = out / f"{level.id}.zip"
            tmp = archive.with_name(f".{archive.name}.tmp")
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for f in sorted(p for p in notebook.parent.rglob("*") if p.is_file()):
                    z.write(f, f"{level.id}/{f.relative_to(notebook.parent)}")
            os.replace(tmp, archive)
            in_sync = level.student.exists() and _cells(level.student) == _cells(notebook)
            made.append({"level": level.id, "notebook": str(notebook), "zip": str(archive),
                         "notebooks_in_sync": in_sync})
    return made


# ------------------------------------------------------------------------------------------------ sample
_NAMES = ("amara", "bastien", "chen_wei", "dagny", "emeka", "farah", "goran", "hana", "ines", "jonas", "kofi",
          "lena", "mateo", "noor", "oskar", "priya", "quinn", "rosa", "sami", "tuva")
DISTILBERT = "distilbert-base-uncased-finetuned-sst-2-english"
PROBE = "linear probe (logistic regression) on all-MiniLM-L6-v2 embeddings, trained on SST-2 train"
# (kind, correct of 872 or None, model, how it is stored): the first twelve are the documented spread.
_SPREAD = [
    ("json", 794, f"{DISTILBERT} (online)", "folder"),          # the model card's verified 91.06%: passes
    ("notebook", 792, "sample notebook (labels with 80 flipped)", "folder"),  # passes, exercises all right
    ("copy", None, "my model", "folder"),                        # the public gold labels: flagged
    ("malformed", None, "", "folder"),                           # upload cut off: not valid JSON
    ("notebook-partial", 760, "sample notebook (labels with 112 flipped)", "file"),  # fails, partial exercises
    ("probe", 708, PROBE + " (offline)", "folder"),               # the offline probe's real predictions: fails
    ("json", 797, f"{DISTILBERT}, fp16 on GPU", "file"),          # passes
    ("json", 803, f"{DISTILBERT}, further fine-tuned on validation", "folder"),  # above the band: fails
    ("json", 789, f"{DISTILBERT}, max_length=64 (truncated)", "folder"),   # just below: fails
    ("json", 795, f"{DISTILBERT} (online, batch 64)", "folder"),  # passes
    ("json", 776, "distilbert-base-uncased + own 1-epoch fine-tune", "file"),  # fails
    ("json", 785, f"{DISTILBERT}, lower-cased twice", "folder"),  # fails
]


def sample_plan(n: int, notebooks: int = 2, seed: int = 0) -> list[dict]:
    """Who submits what: ``n`` learners, the first twelve from the documented spread, then random ones."""
    rng, plan, nb_left = random.Random(seed), [], notebooks
    for i in range(n):
        kind, correct, model, store = _SPREAD[i] if i < len(_SPREAD) else \
            ("json", rng.randint(700, 830), f"{DISTILBERT} (variant {i})", rng.choice(["folder", "file"]))
        if kind.startswith("notebook"):
            if nb_left <= 0:
                kind = "json"
            nb_left -= 1
        plan.append({"learner": _NAMES[i] if i < len(_NAMES) else f"learner{i:02d}", "kind": kind,
                     "correct": correct, "model": model, "store": store})
    return plan


def _flip(labels, correct: int, rng: random.Random) -> list[int]:
    wrong = set(rng.sample(range(len(labels)), len(labels) - correct))
    return [1 - y if i in wrong else y for i, y in enumerate(labels)]


def _probe_predictions(labels):
    """The offline probe's real predictions (results/reproduce-offline-full.json), when recorded."""
    try:
        record = json.loads((REPO_ROOT / "results" / "reproduce-offline-full.json").read_text(encoding="utf-8"))
        preds = [int(p) for p in record["predictions"]["sst2_validation_accuracy"]["predictions"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return preds if len(preds) == len(labels) else None


_IMPLEMENTATIONS = {
    "notebook": '''def evaluate_in_batches(classify_batch, sentences, batch_size):
    sentences = list(sentences)
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    rows = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        for i, row in zip(chunk, classify_batch([sentences[i] for i in chunk])):
            rows[i] = row
    return np.array([rows[i] for i in range(len(sentences))])
''', "notebook-partial": '''def evaluate_in_batches(classify_batch, sentences, batch_size):
    sentences = list(sentences)  # forgot to sort by length
    out = []
    for start in range(0, len(sentences), batch_size):
        out.extend(classify_batch(sentences[start:start + batch_size]))
    return np.array(out)
'''}
_ACCURACY = {
    "notebook": '''def accuracy_with_interval(predictions, labels, z=1.959964):
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(predictions) != len(labels):
        raise ValueError("predictions and labels differ in length")
    n, p = len(labels), float(np.mean(predictions == labels))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * p, 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)
''', "notebook-partial": '''def accuracy_with_interval(predictions, labels, z=1.959964):
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    p = float(np.mean(predictions == labels))
    half = z * np.sqrt(p * (1 - p) / len(labels))  # the textbook (Wald) interval
    return 100 * p, 100 * (p - half), 100 * (p + half)
'''}
_ABSTAIN = {
    "notebook": '''UNCERTAIN = "UNCERTAIN"

def abstain(probabilities, threshold):
    return [int(np.argmax(p)) if max(p) >= threshold else UNCERTAIN for p in np.asarray(probabilities)]


def coverage_and_accuracy(probabilities, labels, threshold):
    answered = [(a, y) for a, y in zip(abstain(probabilities, threshold), labels) if a != UNCERTAIN]
    coverage = 100 * len(answered) / len(labels)
    return coverage, (100 * np.mean([a == y for a, y in answered]) if answered else float("nan"))
''', "notebook-partial": '''UNCERTAIN = "UNCERTAIN"

def abstain(probabilities, threshold):
    return [int(np.argmax(p)) if max(p) > threshold else UNCERTAIN for p in np.asarray(probabilities)]


def coverage_and_accuracy(probabilities, labels, threshold):
    raise NotImplementedError()
'''}


def sample_notebook(kind: str, wrong: int, seed: int, learner: str):
    """A tiny learner notebook (no model): the three exercises, the released test cells, and a submit cell
    that flips ``wrong`` of the real validation labels and writes submission.json."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from tools.curriculum import get_level

    student = nbformat.read(get_level("reproduce").student, as_version=4)  # released test cells: no hidden tests
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")}
    submit = ("import csv, os, random\n"
              "from textclass.submission import make_submission, write_submission\n"
              f"WRONG, SEED = {wrong}, {seed}  # a sample: the labels with WRONG of them flipped, no model\n"
              "path = os.path.join(os.environ['TEXTCLASS_DATA_DIR'], 'sst2', 'validation.tsv')\n"
              "with open(path, newline='', encoding='utf-8') as f:\n"
              "    y = [int(r['label']) for r in csv.DictReader(f, delimiter='\\t', quoting=csv.QUOTE_NONE)]\n"
              "flip = set(random.Random(SEED).sample(range(len(y)), WRONG))\n"
              "predictions = [1 - v if i in flip else v for i, v in enumerate(y)]\n"
              "write_submission('submission.json', make_submission(\n"
              f"    stage='reproduce', dataset='sst2', split='validation', model='sample notebook ({learner})',\n"
              "    predictions=predictions, claimed_accuracy=100 * (len(y) - WRONG) / len(y), profile='offline'))\n"
              "print(f'wrote submission.json: {len(y) - WRONG}/{len(y)}')")
    cells = [new_markdown_cell(f"# Reproduce: {learner}'s notebook\n\nA sample submission: it solves the "
                               "exercises, and its predictions are the validation labels with some flipped."),
             new_code_cell("import numpy as np"),
             new_code_cell(_IMPLEMENTATIONS[kind]), tests["test_evaluate_in_batches"],
             new_code_cell(_ACCURACY[kind]), tests["test_accuracy_with_interval"],
             new_code_cell(_ABSTAIN[kind]), tests["test_abstain"],
             new_code_cell(submit)]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    for i, cell in enumerate(nb.cells):  # stable ids: the same sample every time
        cell = nb.cells[i] = nbformat.from_dict(json.loads(json.dumps(cell)))
        cell["id"] = f"cell-{i}"
    return nb


def sample(out, n: int = 12, *, notebooks: int = 2, seed: int = 0, data_dir=None, noise: bool = True) -> list[dict]:
    """Write ``n`` sample submissions for the reproduce stage into ``out`` (see :data:`_SPREAD`); with
    ``noise``, also what an inbox collects besides submissions (a .DS_Store, a stray file, a bad name)."""
    import nbformat

    if n < 1:
        raise ValueError("--n must be at least 1")
    stage = get_stage("reproduce")
    labels = list(load_gold(stage, data_dir=data_dir).labels)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    plan = sample_plan(n, notebooks, seed)
    for i, entry in enumerate(plan):
        learner, kind, store = entry["learner"], entry["kind"], entry["store"]
        folder = out / learner
        target = folder / "submission.json" if store == "folder" else out / f"{learner}.json"
        if kind.startswith("notebook"):
            wrong = len(labels) - entry["correct"]
            nb = sample_notebook(kind, wrong, seed * 1000 + i, learner)
            target = folder / "reproduce.ipynb" if store == "folder" else out / f"{learner}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            continue
        extra = {"learner": learner, "profile": "online" if "online" in entry["model"] else None}
        if kind == "copy":
            preds = list(labels)
            entry["correct"] = len(labels)
        elif kind == "probe" and _probe_predictions(labels) is not None:
            preds = _probe_predictions(labels)
            entry["correct"] = sum(p == y for p, y in zip(preds, labels))
            extra["profile"] = "offline"
        elif kind == "malformed":
            preds = _flip(labels, 794, rng)
        else:
            preds = _flip(labels, entry["correct"], rng)
        if "distilbert" in entry["model"].lower():
            extra.update(parameters=66_955_010, latency_ms=round(rng.uniform(2.5, 9.0), 2))
        sub = make_submission(stage="reproduce", dataset="sst2", split="validation", model=entry["model"],
                              predictions=preds, claimed_accuracy=100 * sum(p == y for p, y in zip(preds, labels))
                              / len(labels), **extra)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "malformed":  # the upload was cut off half-way
            text = json.dumps(sub, indent=1)
            target.write_text(text[: len(text) // 2], encoding="utf-8")
        else:
            write_submission(target, sub)
    if noise:
        (out / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
        (out / "notes.txt").write_text("late submissions: ask Dagny to upload again\n", encoding="utf-8")
        bad = out / "Jo Smith (late)"
        bad.mkdir(exist_ok=True)
        write_submission(bad / "submission.json", make_submission(
            stage="reproduce", dataset="sst2", split="validation", model=f"{DISTILBERT} (online)",
            predictions=_flip(labels, 794, rng), claimed_accuracy=100 * 794 / len(labels)))
    return plan


# ----------------------------------------------------------------------------------------------- collect
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_entry(path: Path) -> str:
    """'' when ``path`` (an inbox entry) is a submission with a valid learner name, else the problem."""
    if path.is_symlink():
        return "a symbolic link: submit the file itself"
    stem = path.name if path.is_dir() else path.stem
    if path.is_file() and path.suffix not in SUBMISSION_SUFFIXES:
        return f"not a submission ({path.suffix or 'no extension'}): expected <learner>.json, <learner>.ipynb or a " \
               "<learner>/ folder"
    if not path.is_dir() and not path.is_file():
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
            by_learner.setdefault((p.name if p.is_dir() else p.stem).lower(), []).append(p)
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
            if p.is_dir():
                skipped = [q for q in p.rglob("*") if q.is_symlink()]
                shutil.copytree(p, tmp / p.name, symlinks=True,
                                ignore=lambda d, names: [n for n in names if (Path(d) / n).is_symlink()])
                files = sorted(q for q in p.rglob("*") if q.is_file() and not q.is_symlink())
                if skipped:
                    problem = "accepted; symbolic links inside were not collected: " + \
                              ", ".join(str(q.relative_to(p)) for q in skipped[:5])
            else:
                shutil.copy2(p, tmp / p.name)
                files = [p]
        rows.append({"entry": p.name, "learner": "" if problem and not files else
                     (p.name if p.is_dir() else p.stem), "accepted": bool(files),
                     "files": len(files), "bytes": sum(f.stat().st_size for f in files),
                     "sha256": _sha256(files[0]) if len(files) == 1 else
                     hashlib.sha256("".join(_sha256(f) for f in files).encode()).hexdigest() if files else "",
                     "problem": problem})
    shutil.rmtree(snapshot, ignore_errors=True)
    os.replace(tmp, snapshot)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["entry"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    manifest = atomic_write_text(work / f"collected-{stage}.csv", buffer.getvalue())
    return {"accepted": sum(r["accepted"] for r in rows), "rejected": [f"{r['entry']}: {r['problem']}"
                                                                       for r in rows if not r["accepted"]],
            "snapshot": str(snapshot), "manifest": str(manifest)}


# --------------------------------------------------------------------------------------------- autograde
def graded_dir(work, stage: str) -> Path:
    return Path(work) / "graded" / stage


def autograde(stage: str, work=DEFAULT_WORK, **kwargs) -> dict:
    """:func:`autograder.batch.grade_all` on the collected snapshot; results of learners no longer in the
    snapshot are removed first (the rest is resumed: unchanged submissions are not regraded)."""
    snapshot, out = Path(work) / "submitted" / stage, graded_dir(work, stage)
    if not snapshot.is_dir():
        raise ValueError(f"{snapshot}: nothing collected for stage {stage}; run the collect step first")
    present = {learner_name(p) for p in snapshot.iterdir() if not p.name.startswith(".")}
    for r in load_results(out) if out.is_dir() else []:
        if r["learner"] not in present:
            for suffix in (".json", ".md"):
                (out / f"{r['learner']}{suffix}").unlink(missing_ok=True)
    return grade_all(snapshot, stage, out, **kwargs)


def graded_stages(work) -> list[str]:
    root = Path(work) / "graded"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in STAGES) if root.is_dir() else []


# ---------------------------------------------------------------------------------------------- feedback
def _hidden_lines() -> set[str]:
    """Every line of every hidden test in solutions/ (what feedback must never quote)."""
    import nbformat

    from tools.curriculum import levels

    found = set()
    for level in levels():
        if level.solution.exists():
            for cell in nbformat.read(level.solution, as_version=4).cells:
                for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, flags=re.S):
                    found.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 8)
    return found


def redact(text: str, hidden: set[str]) -> tuple[str, int]:
    """Lines quoting test source or a test marker are withheld; returns the text and how many were."""
    out, withheld = [], 0
    for line in text.splitlines():
        if any(m in line for m in LEAK_MARKERS) or any(h in line for h in hidden):
            out.append("(line withheld: it quoted the course's test code; ask the instructor)")
            withheld += 1
        else:
            out.append(line)
    return "\n".join(out) + "\n", withheld


def feedback(work=DEFAULT_WORK) -> dict:
    """``WORK/feedback/<learner>/<stage>.md`` for every graded learner and stage (rebuilt from scratch)."""
    work = Path(work)
    stages = graded_stages(work)
    if not stages:
        raise ValueError(f"{work / 'graded'}: nothing graded yet; run the autograde step first")
    hidden, tmp = _hidden_lines(), work / ".feedback.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    files = withheld = 0
    for stage in stages:
        for report in load_results(graded_dir(work, stage)):
            md = graded_dir(work, stage) / f"{report['learner']}.md"
            text = md.read_text(encoding="utf-8") if md.is_file() else feedback_markdown(report)
            for folder in {str(work / "submitted" / stage), str((work / "submitted" / stage).resolve())}:
                text = text.replace(folder + os.sep, "")  # the learner's own file name, not the instructor's path
            text, n = redact(text, hidden)
            atomic_write_text(tmp / report["learner"] / f"{stage}.md", text)
            files, withheld = files + 1, withheld + n
    shutil.rmtree(work / "feedback", ignore_errors=True)
    tmp.mkdir(exist_ok=True)
    os.replace(tmp, work / "feedback")
    return {"files": files, "learners": len(list((work / "feedback").iterdir())), "lines_withheld": withheld,
            "feedback": str(work / "feedback")}


# ------------------------------------------------------------------------------------------------ export
def status(report: dict) -> str:
    code = report.get("exit_code")
    if report.get("flagged"):
        return "flagged"
    return {0: "passed", 1: "not passed", 2: "invalid"}.get(code, "grader error")


def export(work=DEFAULT_WORK, out=None) -> dict:
    """One CSV across stages: learner, stage, score, max, accuracy, passed (+ flagged, status, exercises)."""
    work = Path(work)
    rows = []
    for stage in graded_stages(work):
        for r in load_results(graded_dir(work, stage)):
            rows.append({"learner": r["learner"], "stage": stage, "score": r.get("score") or 0.0,
                         "max": r.get("max_score") if r.get("max_score") is not None else get_stage(stage).points,
                         "accuracy": "" if r.get("accuracy") is None else r["accuracy"],
                         "passed": bool(r.get("passed")), "flagged": bool(r.get("flagged")), "status": status(r),
                         "exercise_score": r.get("exercise_score", ""), "exercise_max": r.get("exercise_max", ""),
                         "graded_at": r.get("graded_at", "")})
    rows.sort(key=lambda r: (r["learner"], r["stage"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = atomic_write_text(Path(out) if out else work / "grades.csv", buffer.getvalue())
    return {"rows": len(rows), "csv": str(path)}


# ------------------------------------------------------------------------------------------- leaderboard
def leaderboard(work=DEFAULT_WORK, out=None) -> str:
    """:func:`autograder.leaderboard.write_leaderboard` over every graded stage (one folder: as is;
    several: their reports side by side in a temporary folder)."""
    stages = graded_stages(work)
    if not stages:
        raise ValueError(f"{Path(work) / 'graded'}: nothing graded yet; run the autograde step first")
    if len(stages) == 1:
        return write_leaderboard(graded_dir(work, stages[0]), out)
    with tempfile.TemporaryDirectory(prefix="leaderboard-") as tmp:
        for stage in stages:
            for f in graded_dir(work, stage).glob("*.json"):
                shutil.copy2(f, Path(tmp) / f"{stage}--{f.name}")
        return write_leaderboard(tmp, out)


# --------------------------------------------------------------------------------------------- command line
def _grading_options(p):
    from autograder.__main__ import _common

    _common(p)
    p.add_argument("--work", default=DEFAULT_WORK, help=f"the grading folder (default {DEFAULT_WORK}/)")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel")


def _grade_kwargs(args) -> dict:
    from autograder.__main__ import _limits

    return {"jobs": args.jobs, "answer_key": args.answer_key, "data_dir": args.data_dir, "solution": args.solution,
            "limits": _limits(args)}


def _print_collect(result):
    _say(f"collected {result['accepted']} submission(s) into {result['snapshot']} (manifest {result['manifest']})")
    for line in result["rejected"]:
        _say(f"  REJECTED {line}")


def _print_graded(work, stage, summary):
    _say(f"graded {summary['graded']}, skipped {summary['skipped']} unchanged, in {summary['seconds']} s -> "
         f"{summary['out']}")
    for r in load_results(graded_dir(work, stage)):
        acc = "" if r.get("accuracy") is None else f"{r['accuracy']:.2f}%"
        ex = f"  exercises {r['exercise_score']:g}/{r['exercise_max']:g}" if r.get("exercise_max") else ""
        _say(f"  {r['learner']:<12} {status(r):<11} {acc:>7}  score {r.get('score') or 0:g}{ex}")


def main(argv=None) -> int:
    doc = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m autograder.instructor", description=doc)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("regenerate", help="notebooks/<level>/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("levels", nargs="*", help="level ids (default: all)")
    p = sub.add_parser("release", help="student notebooks and a zip per level to hand out")
    p.add_argument("--out", default="release", help="release folder (default release/)")
    p.add_argument("levels", nargs="*", help="level ids (default: all)")
    p = sub.add_parser("sample", help="sample submissions for the reproduce stage (real SST-2 validation labels)")
    p.add_argument("submissions_dir")
    p.add_argument("--n", type=int, default=12, help="how many learners (default 12)")
    p.add_argument("--notebooks", type=int, default=2, help="how many of them submit a notebook (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-noise", action="store_true", help="only submissions (no stray files or bad names)")
    p.add_argument("--data-dir", help="data directory (default: TEXTCLASS_DATA_DIR or ../shared/data)")
    p = sub.add_parser("collect", help="validate and snapshot a folder of submissions (never modified)")
    p.add_argument("inbox")
    p.add_argument("--stage", required=True, choices=sorted(STAGES))
    p.add_argument("--work", default=DEFAULT_WORK)
    p = sub.add_parser("autograde", help="grade the collected snapshot (grade-all)")
    _grading_options(p)
    for name, help_ in (("feedback", "WORK/feedback/<learner>/<stage>.md"),
                        ("export", "WORK/grades.csv: one row per learner and stage")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--work", default=DEFAULT_WORK)
        if name == "export":
            p.add_argument("--out", help="CSV path (default WORK/grades.csv)")
    p = sub.add_parser("leaderboard", help="the leaderboard of every graded stage")
    p.add_argument("--work", default=DEFAULT_WORK)
    p.add_argument("--out", help="write it here (e.g. book/leaderboard.md); default: print it")
    p = sub.add_parser("all", help="collect, autograde, feedback, export, leaderboard")
    p.add_argument("inbox")
    _grading_options(p)
    p.add_argument("--leaderboard", help="write the leaderboard here (e.g. book/leaderboard.md)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, RuntimeError, OSError, KeyError) as exc:
        print(f"instructor: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from tools.curriculum import levels

    if args.step == "regenerate":
        for nb in generate(args.levels or [lv.id for lv in levels()]):
            _say(f"wrote {nb}")
    elif args.step == "release":
        for r in release(args.out, args.levels or None):
            _say(f"{r['level']}: {r['notebook']} and {r['zip']} (no solutions, no hidden tests); notebooks/ "
                 + ("in sync" if r["notebooks_in_sync"] else "is STALE: run ./course regenerate and commit it"))
    elif args.step == "sample":
        plan = sample(args.submissions_dir, args.n, notebooks=args.notebooks, seed=args.seed, data_dir=args.data_dir,
                      noise=not args.no_noise)
        for e in plan:
            what = f"{e['correct']}/872" if e["correct"] is not None else "-"
            _say(f"  {e['learner']:<10} {e['kind']:<17} {what:>8}  {e['model']}")
        _say(f"wrote {len(plan)} sample submissions to {args.submissions_dir}"
             + ("" if args.no_noise else " (and, as in a real inbox, .DS_Store, notes.txt, 'Jo Smith (late)/')"))
    elif args.step == "collect":
        _print_collect(collect(args.inbox, args.stage, args.work))
    elif args.step == "autograde":
        _print_graded(args.work, args.stage, autograde(args.stage, args.work, **_grade_kwargs(args)))
    elif args.step == "feedback":
        r = feedback(args.work)
        _say(f"wrote {r['files']} feedback file(s) for {r['learners']} learner(s) under {r['feedback']}/"
             f" ({r['lines_withheld']} line(s) withheld)")
    elif args.step == "export":
        r = export(args.work, args.out)
        _say(f"wrote {r['csv']}: {r['rows']} row(s)")
    elif args.step == "leaderboard":
        text = leaderboard(args.work, args.out)
        _say(f"wrote {args.out}" if args.out else text.rstrip())
    else:  # all
        _print_collect(collect(args.inbox, args.stage, args.work))
        _print_graded(args.work, args.stage, autograde(args.stage, args.work, **_grade_kwargs(args)))
        r = feedback(args.work)
        _say(f"wrote {r['files']} feedback file(s) under {r['feedback']}/")
        _say(f"wrote {export(args.work)['csv']}")
        if args.leaderboard:
            leaderboard(args.work, args.leaderboard)
            _say(f"wrote {args.leaderboard}: {len(leaderboard_rows(graded_dir(args.work, args.stage)))} ranked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
