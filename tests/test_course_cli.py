"""The command map: every documented command, run exactly as written (through ./course, no activated venv),
short errors with the right exit code, and tracked files unchanged by anything a user runs."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from textclass import results

REPO = Path(__file__).resolve().parent.parent
TOOLS_VERBS = ["run", "book", "regenerate", "levels", "benchmark", "publish", "release", "data"]
AUTOGRADER_VERBS = ["grade", "collect", "feedback", "export", "leaderboard", "rescore"]


def _tracked_state() -> str:
    """The content of every tracked file that differs from HEAD, plus untracked non-ignored files."""
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=REPO, capture_output=True, text=True).stdout
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    return diff + status


def course(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``./course ARGS`` as a user types it: no activated venv (PATH without it), no PYTHONPATH."""
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    venv_bin = str(Path(sys.executable).parent)
    clean["PATH"] = os.pathsep.join(p for p in clean.get("PATH", "").split(os.pathsep) if p != venv_bin)
    clean.setdefault("TEXTCLASS_VENV", str(Path(sys.executable).parent.parent))
    return subprocess.run([str(REPO / "course"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**clean, **(env or {})})


@pytest.fixture
def unchanged():
    """Asserts that the test left every tracked file as it was."""
    before = _tracked_state()
    yield
    assert _tracked_state() == before, "a command changed tracked files"


def test_help_shows_the_whole_map_on_one_screen(unchanged):
    proc = course("help")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= 25 and max(map(len, lines)) <= 120
    for verb in TOOLS_VERBS + AUTOGRADER_VERBS + ["test", "setup", "help"]:
        assert verb in proc.stdout, verb
    assert "python -m tools" in proc.stdout and "python -m autograder" in proc.stdout


def test_python_m_tools_help_lists_every_verb():
    proc = subprocess.run([sys.executable, "-m", "tools", "--help"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert listed == TOOLS_VERBS
    for verb in TOOLS_VERBS:  # each verb is the main(argv) of its own module (release: lazily, may be absent)
        path = REPO / "tools" / f"{verb}.py"
        if verb != "release":
            assert "def main(argv" in path.read_text(), verb


def test_unknown_verbs_are_usage_errors(unchanged):
    proc = course("nosuchverb")
    assert proc.returncode == 2 and "unknown verb 'nosuchverb'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tools", "nosuchverb"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown verb 'nosuchverb'" in proc.stderr


def test_run_help_prints_help_only(unchanged):
    proc = course("run", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: python -m tools run") and "--size" in proc.stdout
    assert "==>" not in proc.stdout and "plan:" not in proc.stdout and not proc.stderr


def test_run_unknown_level_is_short(unchanged):
    proc = course("run", "nosuchlevel")
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) <= 3 and "unknown level 'nosuchlevel'" in err[0] and "orientation" in err[0]
    assert "Traceback" not in proc.stderr and not proc.stdout


@pytest.mark.parametrize("pair, says", [("1bad=2", "write NAME=VALUE"), ("profile=online", "use --profile")])
def test_run_bad_parameter_is_short(unchanged, pair, says):
    proc = course("run", "orientation", "-p", pair)
    assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2
    assert "Traceback" not in proc.stderr


@pytest.mark.notebook
def test_run_parameters_reach_the_notebook(tmp_path, data_dir, unchanged):
    """``./course run LEVEL -p NAME=VALUE`` (e.g. Level 4's teacher run) is a papermill parameter of the run."""
    proc = course("run", "orientation", "--profile", "offline", "--no-progress", "--out", str(tmp_path / "run"),
                  "-p", "limit=100", env={"TEXTCLASS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "parameters: limit=100" in proc.stdout
    nb = nbformat.read(tmp_path / "run" / "executed" / "orientation.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"]["limit"] == 100


@pytest.mark.notebook
def test_a_baseline_run_that_was_never_made_stops_level5_and_says_what_to_make(tmp_path, data_dir, unchanged):
    """Level 5 with ``-p baseline_run=NAME`` and no such Level 4 side run stops at that cell with what to do,
    instead of quietly taking another baseline (the default, with no baseline_run, falls back and says so)."""
    proc = course("run", "improve", "--profile", "offline", "--no-progress", "--out", str(tmp_path / "run"),
                  "-p", "baseline_run=never-made", env={"TEXTCLASS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
                                                       "TEXTCLASS_CACHE": str(tmp_path / "cache")}, timeout=600)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0, said[-2000:]
    assert "name a Level 4 model that is not there: make it first" in said and "run_name=never-made" in said, said[-2000:]


def test_run_missing_data_dir_is_short(unchanged):
    proc = course("run", "reproduce", env={"TEXTCLASS_DATA_DIR": "/nonexistent"})
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) <= 3 and "/nonexistent" in err[0] and "TEXTCLASS_DATA_DIR" in err[0]
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr


def test_levels_prints_recorded_times(unchanged):
    proc = course("levels")
    assert proc.returncode == 0, proc.stderr
    from tools.curriculum import levels

    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert list(rows) == [lv.id for lv in levels()]
    rec = json.loads((REPO / "results" / "reproduce-offline-full.json").read_text())
    seconds = rec.get("wall_seconds", rec["seconds"])
    shown = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
    assert shown in rows["reproduce"]


def test_grade_as_documented(tmp_path, data_dir, unchanged):
    """README: ``./course grade SUBMISSION --stage reproduce`` prints a graded report (exit 0 or 1)."""
    from textclass.data import load_sst2
    from textclass.submission import make_submission, write_submission

    labels = list(load_sst2("validation", profile="offline", data_dir=data_dir)["label"])
    sub = tmp_path / "submission.json"
    write_submission(sub, make_submission(stage="reproduce", dataset="sst2", split="validation", model="t",
                                          predictions=labels[:800] + [1 - x for x in labels[800:]],
                                          claimed_accuracy=100 * 800 / len(labels)))
    before = sub.read_bytes()
    proc = course("grade", str(sub), "--stage", "reproduce")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stage reproduce: PASSED" in proc.stdout and "800/872" in proc.stdout
    assert sub.read_bytes() == before  # nothing a user submitted is ever modified
    wrong = tmp_path / "wrong.json"
    write_submission(wrong, make_submission(stage="reproduce", dataset="sst2", split="validation", model="t",
                                            predictions=[1 - x for x in labels], claimed_accuracy=0.0))
    proc = course("grade", str(wrong), "--stage", "reproduce")
    assert proc.returncode == 1 and "NOT PASSED" in proc.stdout


def test_publish_refuses_an_empty_run(tmp_path, unchanged):
    proc = course("publish", str(tmp_path))
    assert proc.returncode == 2 and "run `./course run --size full` first" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_release_is_dispatched_lazily():
    proc = subprocess.run([sys.executable, "-m", "tools", "release", "--help"], cwd=REPO, capture_output=True,
                          text=True)
    if (REPO / "tools" / "release.py").exists():
        assert proc.returncode == 0
    else:
        assert proc.returncode == 2 and "no tools/release.py" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- failures are atomic

def _notebook(path: Path, *sources: str) -> None:
    """A notebook with a parameters cell and one code cell per source."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'auto'\nsize = 'small'", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(source) for source in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _error_notebook(path: Path) -> None:
    _notebook(path, "print('ok')", "raise ValueError('no data here')")


def _level_and_its_page(tmp_path: Path, name: str, *sources: str):
    """A level whose solution is a notebook of these cells, and its executed page, which holds "the good page"."""
    from tools.curriculum import Level

    source = tmp_path / f"{name}.ipynb"
    _notebook(source, *sources)

    class One(Level):
        @property
        def solution(self):
            return source

    out = tmp_path / "run" / "executed" / f"{name}.ipynb"
    out.parent.mkdir(parents=True)
    out.write_text("the good page")
    return One(id=name, title=name.title(), notebook=name, minutes=1, level=0), out


def test_a_failing_notebook_replaces_nothing(tmp_path, capsys):
    """The notebook executes to a temporary file: on an error the previous output stays, the error notebook
    is kept beside it, and the runner prints one short paragraph."""
    from tools.curriculum import ExecutionFailed, execute

    level, out = _level_and_its_page(tmp_path, "broken", "print('ok')", "raise ValueError('no data here')")
    with pytest.raises(ExecutionFailed) as info:
        execute(level, out, size="small", profile="offline", cwd=tmp_path / "run" / "broken")
    assert out.read_text() == "the good page"
    assert info.value.ename == "ValueError" and "no data here" in info.value.evalue
    assert info.value.failed.exists() and not list(out.parent.glob("*.partial.ipynb"))


def test_a_cell_past_its_time_limit_replaces_nothing_and_run_says_what_to_do(tmp_path, monkeypatch, capsys):
    """A cell that runs past the per-cell limit is stopped (papermill's real kernel, a 2-second limit) and the
    previous output stays. `run` gives small runs an hour per cell and full runs no limit (one training cell of the
    full profile ran past an hour on a 2-core CPU), `--cell-timeout` sets it (0: none), and a timeout ends in one
    paragraph that names the option."""
    import tools.curriculum as curriculum
    from tools import run

    level, out = _level_and_its_page(tmp_path, "slow", "print('trained a while')", "import time\ntime.sleep(60)")
    with pytest.raises(curriculum.CellTimedOut) as info:
        curriculum.execute(level, out, size="small", profile="offline", cwd=tmp_path / "run" / "slow", timeout=2)
    assert out.read_text() == "the good page" and not list(out.parent.glob("*.partial.ipynb"))
    assert info.value.timeout == 2 and "trained a while" in info.value.failed.read_text()  # what ran is kept

    seen = []

    def fake_execute(lv, target, **kwargs):
        seen.append(kwargs["timeout"])
        raise curriculum.CellTimedOut(lv.id, tmp_path / "so-far.ipynb", kwargs["timeout"])

    monkeypatch.setattr(curriculum, "execute", fake_execute)
    for argv, limit in ((["--size", "small"], 3600), (["--size", "full"], None),
                        (["--size", "full", "--cell-timeout", "7200"], 7200), (["--cell-timeout", "0"], None)):
        assert run.main(["orientation", "--profile", "offline", "--out", str(tmp_path / "r"), *argv]) == 1
        assert seen[-1] == limit, (argv, seen)
        err = capsys.readouterr().err
        assert "level orientation: a cell ran longer than --cell-timeout allows" in err and "so-far.ipynb" in err
        assert "re-run the same command with --cell-timeout 0" in err
    assert run.main(["orientation", "--profile", "offline", "--cell-timeout", "-5"]) == 2
    assert "--cell-timeout -5: give seconds, or 0 for no limit" in capsys.readouterr().err


def test_book_refuses_an_executed_notebook_with_an_error(tmp_path):
    from tools.book import BookError, refuse_errors

    (tmp_path / "book" / "executed").mkdir(parents=True)
    _error_notebook(tmp_path / "book" / "executed" / "x.ipynb")
    nb = nbformat.read(tmp_path / "book" / "executed" / "x.ipynb", as_version=4)
    refuse_errors(tmp_path)  # no outputs yet: fine
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="no data here", traceback=[])]
    nbformat.write(nb, tmp_path / "book" / "executed" / "x.ipynb")
    with pytest.raises(BookError, match="x.ipynb holds an error output .*ValueError: no data here"):
        refuse_errors(tmp_path)


def test_committed_executed_notebooks_hold_no_error():
    from tools.curriculum import error_outputs

    for path in sorted((REPO / "book" / "executed").glob("*.ipynb")):
        assert not error_outputs(path), path.name


# --------------------------------------------------------------------------- a real run, twice

def _run_twice(level: str, tmp_path: Path, data_dir: Path, timeout: int):
    outs, procs = [], []
    for name in ("a", "b"):
        proc = course("run", level, "--profile", "offline", "--out", str(tmp_path / name), timeout=timeout,
                      env={"TEXTCLASS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(tmp_path / name)
        procs.append(proc)
    recs = [json.loads(next((o / "results").glob(f"{level}-*.json")).read_text()) for o in outs]
    untimed = [results.untimed(r["metrics"]) for r in recs]   # measurements of time are not results
    assert untimed[0] == untimed[1]
    assert recs[0].get("predictions") == recs[1].get("predictions")  # every recorded prediction, exactly
    subs = [o / level / "submission.json" for o in outs]
    if subs[0].exists():
        assert json.loads(subs[0].read_text())["predictions"] == json.loads(subs[1].read_text())["predictions"]
    return procs, recs


@pytest.mark.notebook
def test_run_writes_only_the_run_folder_and_repeats_exactly(tmp_path, data_dir, unchanged):
    """``./course run orientation`` (small, the cheapest level) twice into two run folders: tracked files
    unchanged, the plan and a per-level progress bar printed, no kernel transport warning, identical results."""
    procs, recs = _run_twice("orientation", tmp_path, data_dir, timeout=600)
    out = procs[-1].stdout + procs[-1].stderr
    assert "plan: 1 level(s), --size small" in procs[-1].stdout and "orientation" in procs[-1].stdout
    assert "cells [" in procs[-1].stderr  # the progress bar: cells done / total [elapsed<ETA]
    assert "without encryption" not in out and "Traceback" not in out
    assert "wall_seconds" in recs[0]


@pytest.mark.notebook
@pytest.mark.slow
def test_level5_small_repeats_exactly(tmp_path, data_dir, unchanged):
    """Level 5 (improve) trains a student and ensembles: two small runs must give identical predictions."""
    _run_twice("improve", tmp_path, data_dir, timeout=3000)


def test_mteb_protocol_raises_no_future_warning():
    """Level 3's executed page showed ~30 scikit-learn FutureWarning boxes (n_jobs); filtered at the source."""
    import warnings

    import numpy as np

    from textclass.mteb import run_protocol

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(48, 4)), np.arange(48) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        run_protocol(X, y, X[:12], y[:12], n_experiments=2, samples_per_label=4, progress=False)


def test_report_wording_names_the_profile_and_the_stages():
    """The functions the grading report uses (autograder/stages.py): an offline Reproduce report says it cannot
    pass by design; a wrong stage says which stage the submission is for and what to do."""
    from autograder.stages import STAGES, mismatch_message, profile_note

    offline = profile_note(STAGES["reproduce"], "offline-small")
    assert "offline-small" in offline and "cannot pass by design" in offline
    assert "cannot pass" not in profile_note(STAGES["reproduce"], "online-full")
    assert "cannot pass" not in profile_note(STAGES["orientation"], "offline-full")
    assert "not stated" in profile_note(STAGES["reproduce"], None)
    msg = mismatch_message("stage", "improve", STAGES["reproduce"])
    assert "made for stage 'improve'" in msg and "graded as stage 'reproduce'" in msg and "--stage improve" in msg
    assert "grades stage" not in msg  # the old "stage 'improve' grades stage 'improve'" tautology
    assert "--stage" not in mismatch_message("stage", "nosuch", STAGES["reproduce"])
    split = mismatch_message("split", "test", STAGES["reproduce"])
    assert "sst2/validation" in split and "split='validation'" in split


def test_run_plan_prints_recorded_times_and_runs_nothing(tmp_path, unchanged):
    from tools.curriculum import levels

    proc = course("run", "--plan", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"plan: {len(levels())} level(s), --size small")
    for lv in levels():
        seconds, record = lv.recorded_seconds("small")
        assert any(line.split()[0] == lv.id and record in line for line in lines[1:]), lv.id
    assert lines[-1].split()[0] == "total" and not (tmp_path / "run").exists()
    # the threads shown are the notebooks' (--threads), not the runner's own
    three = course("run", "--plan", "--threads", "3", "--out", str(tmp_path / "run"))
    assert "torch" not in three.stdout or " 3 threads" in three.stdout.splitlines()[-1], three.stdout


@pytest.mark.book
def test_book_of_a_run_folder_and_refusal_of_an_error_page(tmp_path, unchanged):
    """``./course book --run RUN`` renders a run's notebooks without touching tracked files; a run whose
    executed notebook holds an error is refused with one short line (exit 2)."""
    import shutil

    run = tmp_path / "run"
    (run / "executed").mkdir(parents=True)
    nb = nbformat.read(REPO / "book" / "executed" / "orientation.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("MARKER-OF-THIS-RUN"))
    nbformat.write(nb, run / "executed" / "orientation.ipynb")
    shutil.copytree(REPO / "results", run / "results", ignore=shutil.ignore_patterns("grades"))
    proc = course("book", "--run", str(run), timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    page = run / "_build" / "html" / "book" / "rendered" / "orientation.html"
    assert "MARKER-OF-THIS-RUN" in page.read_text()

    nb.cells[-1] = nbformat.v4.new_code_cell("1/0", outputs=[nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])
    nbformat.write(nb, run / "executed" / "orientation.ipynb")
    proc = course("book", "--run", str(run), timeout=600)
    assert proc.returncode == 2 and "orientation.ipynb holds an error output" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_publish_copies_a_full_run_into_the_reference(tmp_path):
    """The maintainer step, on a copy of the checkout: a small run is refused (the chapters quote the full
    job), a full run's notebook and record replace the reference and the generated pages are rewritten."""
    import shutil

    from tools import UsageError
    from tools.publish import publish

    root = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file() and name.split("/")[0] in ("book", "results", "benchmarks", "notebooks", "_config.yml",
                                                              "curriculum.yml", "_toc.yml"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    run = tmp_path / "run"
    (run / "executed").mkdir(parents=True)
    (run / "results").mkdir()
    nb = nbformat.read(REPO / "book" / "executed" / "orientation.ipynb", as_version=4)
    nb.metadata.setdefault("papermill", {}).setdefault("parameters", {})["size"] = "small"
    nbformat.write(nb, run / "executed" / "orientation.ipynb")
    rec = json.loads((REPO / "results" / "orientation-offline-full.json").read_text())
    rec["wall_seconds"] = 17.0
    (run / "results" / "orientation-offline-full.json").write_text(json.dumps(rec))
    with pytest.raises(UsageError, match="--size small run"):
        publish(run, root=root)
    assert (root / "book" / "executed" / "orientation.ipynb").read_bytes() == \
        (REPO / "book" / "executed" / "orientation.ipynb").read_bytes()
    nb.metadata["papermill"]["parameters"]["size"] = "full"
    nbformat.write(nb, run / "executed" / "orientation.ipynb")
    written = {p.relative_to(root).as_posix() for p in publish(run, root=root)}
    assert {"book/executed/orientation.ipynb", "results/orientation-offline-full.json",
            "book/benchmarks.md"} <= written
    assert "| orientation | offline-full | 17 |" in (root / "book" / "benchmarks.md").read_text()
    # a side run (run_name, e.g. Level 5's teacher) brings its record and artifact, never its notebook
    page = (root / "book" / "executed" / "orientation.ipynb").read_bytes()
    nb.metadata["papermill"]["parameters"]["run_name"] = "teacher-x"
    nb.cells[0].source += "\n\nside run"
    nbformat.write(nb, run / "executed" / "orientation.ipynb")
    (run / "results" / "teacher-x.npz").write_bytes(b"npz")
    written = {p.relative_to(root).as_posix() for p in publish(run, root=root)}
    assert "results/teacher-x.npz" in written and "book/executed/orientation.ipynb" not in written
    assert (root / "book" / "executed" / "orientation.ipynb").read_bytes() == page
    # a small record in the run folder is refused too (a small run's numbers are never the course's reference)
    (run / "results" / "orientation-offline-small.json").write_text(json.dumps(rec))
    with pytest.raises(UsageError, match="orientation-offline-small.json is a --size small record"):
        publish(run, root=root)
    assert not (root / "results" / "orientation-offline-small.json").exists()


def test_publish_prose_brings_a_solutions_text_and_nothing_else(tmp_path, unchanged):
    """`publish --prose LEVEL`: an edit of a solution's markdown or code comments reaches the executed page, whose
    code and outputs stay as they ran; a changed line of code is refused (it needs a new run) and the page is left
    alone."""
    import shutil

    from tools import UsageError
    from tools.publish import publish_prose

    root = tmp_path / "repo"
    (root / "solutions" / "orientation").mkdir(parents=True)
    (root / "book" / "executed").mkdir(parents=True)
    shutil.copy2(REPO / "solutions" / "orientation" / "orientation.ipynb", root / "solutions" / "orientation")
    shutil.copy2(REPO / "book" / "executed" / "orientation.ipynb", root / "book" / "executed")
    page_path, solution_path = root / "book" / "executed" / "orientation.ipynb", root / "solutions" / "orientation" / "orientation.ipynb"
    solution = nbformat.read(solution_path, as_version=4)
    first_md = next(i for i, c in enumerate(solution.cells) if c.cell_type == "markdown")
    solution.cells[first_md].source += "\n\nA new sentence."
    nbformat.write(solution, solution_path)
    before = nbformat.read(page_path, as_version=4)
    publish_prose("orientation", root=root)
    after = nbformat.read(page_path, as_version=4)
    ran = [c for c in after.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert [(c.cell_type, c.source) for c in ran] == [(c.cell_type, c.source) for c in solution.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    assert sum(a.source != b.source for a, b in zip(after.cells, before.cells)) == 1
    code = next(c for c in solution.cells if c.cell_type == "code" and "import" in c.source and "%" not in c.source)
    code.source = "# a comment added to the code that ran\n" + code.source.replace("\n", "  # and here\n", 1)
    nbformat.write(solution, solution_path)
    publish_prose("orientation", root=root)   # a comment is not code: no new run needed
    after = nbformat.read(page_path, as_version=4)
    assert code.source in [c.source for c in after.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    page = page_path.read_bytes()
    code = next(c for c in solution.cells if c.cell_type == "code")
    code.source += "\nprint('new')"
    nbformat.write(solution, solution_path)
    with pytest.raises(UsageError, match="is not the one that ran: re-run it"):
        publish_prose("orientation", root=root)
    solution.cells.pop()
    nbformat.write(solution, solution_path)
    with pytest.raises(UsageError, match="cells added, removed or moved"):
        publish_prose("orientation", root=root)
    assert page_path.read_bytes() == page
    from tools.publish import code_tokens

    assert code_tokens("x = 1") == code_tokens("x = 1\n# a note")           # a comment line at the end is prose
    assert code_tokens("x = 1") != code_tokens("x = 2")
    assert code_tokens("!ls -la") != code_tokens("!ls - la")                 # a shell line is compared as written
    assert code_tokens("%%bash\n# data\necho") != code_tokens("%%bash\necho")   # '#' in a magic cell is not a comment
    proc = course("publish", "--prose", "no-such-level")
    assert proc.returncode == 2 and "--prose no-such-level: needs solutions/no-such-level" in proc.stderr


def test_the_recorded_command_names_every_parameter_and_threads_reach_the_notebook(tmp_path):
    """A record's command must reproduce the run: `-p` parameters, --threads and --seed are in it (the teacher
    run of Level 4 is Level 4 with five `-p`), and --threads reaches a notebook that has its own `threads`."""
    from autograder.grade import parse_parameters
    from tools.curriculum import Level, execute

    source = tmp_path / "echo.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'auto'\nsize = 'small'\nthreads = 2\nencoder_name = None\n"
                                          "learning_rates = [1]\nrun_name = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import json, os\nopen('seen.json', 'w').write(json.dumps("
                                          "{'command': os.environ['TEXTCLASS_COMMAND'], 'threads': threads, "
                                          "'encoder_name': encoder_name, 'learning_rates': learning_rates}))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, source)

    class Echo(Level):
        @property
        def solution(self):
            return source

    level = Echo(id="echo", title="Echo", notebook="echo", minutes=1, level=0)
    extra = {"encoder_name": "sentence-transformers/all-mpnet-base-v2", "learning_rates": [3e-05],
             "run_name": "1e-4"}   # a string the parser would read as a number unless quoted
    execute(level, tmp_path / "out.ipynb", size="full", profile="offline", cwd=tmp_path, extra=extra, threads=1,
            seed=3)
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["threads"] == 1 and seen["encoder_name"] == extra["encoder_name"]
    words = shlex.split(seen["command"])
    assert words[words.index("--threads") + 1] == "1" and words[words.index("--seed") + 1] == "3"
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "-p"]
    assert parse_parameters(pairs) == extra


def test_wall_time_reaches_a_side_runs_record_and_no_older_one(tmp_path):
    """A side run (Level 4 run as the teacher) writes ``finetune-offline-full-teacher-mpnet.json``: its wall time
    is noted there; a record of the same level left by an earlier run is not touched."""
    import os
    import time

    from tools.run import note_wall_time

    old = tmp_path / "finetune-offline-full-old.json"
    level = tmp_path / "finetune-offline-full.json"          # Level 4's own record from an earlier run
    for path in (old, level):
        path.write_text(json.dumps({"seconds": 5}))
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    since = time.time() - 1
    side = tmp_path / "finetune-offline-full-teacher-mpnet.json"
    side.write_text(json.dumps({"seconds": 10}))
    note_wall_time(tmp_path, "finetune", "offline-full", 12.34, since=since)
    assert json.loads(side.read_text())["wall_seconds"] == 12.3
    assert "wall_seconds" not in json.loads(old.read_text())
    assert "wall_seconds" not in json.loads(level.read_text())
    level.write_text(json.dumps({"seconds": 7}))                 # the level's own run writes its record: noted
    note_wall_time(tmp_path, "finetune", "offline-full", 8.0, since=since)
    assert json.loads(level.read_text())["wall_seconds"] == 8.0
    note_wall_time(tmp_path, "finetune", "offline-small", 1.0, since=since)  # nothing of that profile: no error
