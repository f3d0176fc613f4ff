"""Hostile and broken notebook submissions (issue 12): each is graded with a clear message and exit code, and none
can raise its own score. The synthetic level is orientation-sized (one real exercise and its real check, a cell
that writes submission.json from the real labels; no models). The score an attacked notebook must get is what the
check gives the same function without any attack, computed in this process (``expected_score``)."""
from __future__ import annotations

import csv
import json
import os
import socket
from pathlib import Path

import pytest
from nbformat.v4 import new_output

from autograder.grade import grade_path, load_gold
from autograder.sandbox import Limits, isolation_available
from autograder.stages import get_stage
from fixtures.autograder.synth import (BLANK, POINTS, RIGHT, WRONG, expected_score, gold_labels, learner_notebook,
                                       solution_notebook, submission, write_json, write_notebook)

pytestmark = pytest.mark.notebook
STAGE = get_stage("reproduce")
FAST = Limits(wall_s=90, cell_s=30, call_s=20, checks_s=60, memory_mb=4096, output_mb=5)
needs_isolation = pytest.mark.skipif(not isolation_available(), reason="unshare/setpriv unavailable (not root?)")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("autograder_nb")
    return {"dir": d, "solution": write_notebook(d / "solution.ipynb", solution_notebook()),
            "gold": load_gold(STAGE), "labels": gold_labels()}


def grade_nb(env, tmp_path, nb, name="learner.ipynb", limits=FAST, **kw):
    path = write_notebook(tmp_path / name, nb)
    before = path.read_bytes()
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=limits, **kw)
    assert path.read_bytes() == before  # the submission is never modified
    return report


def exercise(report) -> float:
    return report["exercises"][0]["score"]


def test_honest_notebook_and_the_isolation_mode_is_always_reported(env, tmp_path):
    from autograder.grade import summary

    report = grade_nb(env, tmp_path, learner_notebook())
    assert report["exit_code"] == 0 and report["correct"] == len(env["labels"]) - 78
    assert report["exercises"] == [{"grade_id": "test_sentences_needed", "max_score": float(POINTS),
                                    "score": float(POINTS), "message": ""}]
    assert not any("edited" in m for m in report["messages"])  # the student version is not an edit
    mode = report["sandbox"]["mode"]
    assert mode == ("namespace jail" if isolation_available() else "limits-only")
    assert f"isolation: {mode}" in summary(report)
    json_report = grade_path(write_json(tmp_path / "s.json", submission(env["labels"], 794)), STAGE, env["gold"])
    assert "isolation: not needed" in summary(json_report)


def test_wrong_answer_loses_points_and_deleted_or_edited_test_cells_change_nothing(env, tmp_path):
    wrong = expected_score(WRONG)
    assert 0 < wrong < POINTS
    deleted = grade_nb(env, tmp_path, learner_notebook(WRONG, test_source=None), name="a.ipynb")
    assert any("'test_sentences_needed' was missing" in m for m in deleted["messages"])
    edited = grade_nb(env, tmp_path, learner_notebook(WRONG, test_source=f"{POINTS}  # full marks, trust me"),
                      name="b.ipynb")
    assert any("had been edited" in m for m in edited["messages"])
    assert exercise(deleted) == exercise(edited) == wrong
    # the hidden case it failed, with its inputs, is in the instructor's report and not in what the learner reads
    from autograder.batch import feedback_markdown
    from autograder.grade import summary

    detail = deleted["exercises"][0].get("instructor_detail", "")
    assert "hidden case" in detail and "sentences_needed(" in detail and "returned" in detail, deleted["exercises"]
    case = detail.split(": ", 1)[1]   # the inputs and what came back, after the part's description
    assert case not in summary(deleted) and case not in feedback_markdown(deleted)
    assert "Hidden cases that failed" in feedback_markdown(deleted, instructor=True)


# ---- class 1 (in-process tampering) and class 2 (forging the result channel), in one jailed run ---------------
TAMPER = r"""
import sys, os, builtins, gc, signal
import autograder.checks as c, textclass.evaluate as e
c.grade = lambda r, show=True: 10.0
try:  # in the jail autograder.checks is a stub: no CheckResult there to patch (the attacks below still run)
    c.CheckResult.score = property(lambda self: 10.0)
    c.CheckResult.add = lambda self, d, ok, p, m='': self.parts.append((d, p, p, ''))
except AttributeError:
    pass
c.safe_call = lambda r, d, p, fn, *a, **k: (True, None)
grade = c.grade
ip = get_ipython()
ip.display_formatter.formatters['text/plain'].for_type(float, lambda x, p, cyc: p.text('10'))
ip.events.register('post_run_cell', lambda *a: print('10.0'))
ip.input_transformers_cleanup.append(lambda lines: [l.replace('sentences_needed', 'sentences_needed') for l in lines])
class Hook:
    def find_spec(self, name, path=None, target=None):
        return None
sys.meta_path.insert(0, Hook())
import stat
for fd in range(3, 256):  # every pipe the kernel holds: the grader's report pipes are not among them
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b'\0\0\0\0\0\0\0\x10{"status": "ok"}')
    except OSError:
        pass
try:
    os.kill(os.getppid(), signal.SIGSTOP)  # stop the runner: the grader must still finish (it times out)
    os.kill(os.getppid(), signal.SIGCONT)
except OSError:
    pass
open('autograder.py', 'w').write('raise SystemExit("learner code imported by the grader")')
os.makedirs('autograder', exist_ok=True)
open('/dev/shm/ag-leftover-test', 'w').write('x')
"""


def test_tampering_and_forged_channels_do_not_change_the_score(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(WRONG, before_test=TAMPER))
    assert "exercises" in report, report["messages"]
    assert exercise(report) == expected_score(WRONG) < POINTS, report["exercises"]
    assert report["correct"] == len(env["labels"]) - 78 and report["score"] == STAGE.score(report["accuracy"])
    assert not any(" raised " in m for m in report["messages"]), report["messages"]   # every attack ran
    if isolation_available():  # /dev/shm was the jail's own, gone with it
        assert not os.path.exists("/dev/shm/ag-leftover-test")


def test_a_tampered_function_is_still_only_data(env, tmp_path):
    """The learner's function, while a check calls it, walks the stack and patches what it finds: the check runs
    in another process, so there is nothing to find."""
    body = ("import sys, gc\n    for o in gc.get_objects():\n        if type(o).__name__ == 'CheckResult':\n"
            "            o.max_score = 0; o.parts.clear()\n    f = sys._getframe()\n    while f is not None:\n"
            "        f.f_locals.get('r') is not None and setattr(f.f_locals['r'], 'parts', [])\n        f = f.f_back\n"
            f"    {WRONG}")
    report = grade_nb(env, tmp_path, learner_notebook(body))
    assert exercise(report) == expected_score(WRONG)


# ---- class 3: reading what must stay hidden -----------------------------------------------------------------
def _reader(paths) -> str:
    """A cell that tries to read each path; ``found[str(i)]``: bytes read, a listing, or the exception's name."""
    return ("import os, json\nfound = {}\n"
            f"for i, p in enumerate({[str(p) for p in paths]!r}):\n"
            "    try:\n"
            "        found[str(i)] = len(open(p, 'rb').read()) if os.path.isfile(p) else sorted(os.listdir(p))\n"
            "    except Exception as exc:\n"
            "        found[str(i)] = type(exc).__name__[:3]\n")


@needs_isolation
def test_blank_notebook_that_reads_the_solution_from_disk_scores_as_blank(env, tmp_path):
    from autograder.sandbox import default_hidden

    targets = [REPO / "solutions" / "orientation" / "orientation.ipynb", *default_hidden()]
    steal = _reader(targets) + (
        "import nbformat\n"
        f"for p in {[str(REPO / 'solutions' / 'orientation' / 'orientation.ipynb')]!r}:\n"
        "    try:\n"
        "        for c in nbformat.read(p, as_version=4).cells:\n"
        "            if 'def sentences_needed' in c.source:\n"
        "                exec(c.source.replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))\n"
        "    except Exception:\n"
        "        pass\n")
    # the report keeps 200 characters of "model": the solution's outcome, then each distinct outcome once
    submit = learner_notebook().cells[-1].source.replace(
        "model='synthetic notebook'", "model=json.dumps([found['0'], sorted({json.dumps(v) for v in found.values()})])")
    report = grade_nb(env, tmp_path, learner_notebook(BLANK, before_test=steal, submit="import json\n" + submit))
    assert exercise(report) == expected_score(BLANK) == 0
    solution, outcomes = json.loads(report["model"])
    assert solution in ("Fil", "Not"), solution  # the solution notebook is not there
    assert all(json.loads(v) in ([], 0, "Fil", "Not") for v in outcomes), outcomes  # every hidden path: empty or absent


@needs_isolation
def test_the_hidden_key_the_secret_and_other_learners_are_invisible(env, tmp_path, monkeypatch):
    from autograder.scoring import key_path

    monkeypatch.setenv("AUTOGRADER_SECRET", "s3cret-of-the-instructor")

    key = key_path(get_stage("improve-test"), os.environ.get("TEXTCLASS_DATA_DIR"))
    other = tmp_path / "other_learner"
    other.mkdir()
    (other / "secret.txt").write_text("the other learner's work")
    hide = [other]
    submit = learner_notebook().cells[-1].source.replace("model='synthetic notebook'", "model=json.dumps(found)")
    spy = ("import glob\nfound['env'] = any('s3cret' in v for v in os.environ.values())\n"
           "for f in glob.glob('/proc/*/environ'):\n    try:\n"
           "        found['env'] = found['env'] or b's3cret' in open(f, 'rb').read()\n    except OSError:\n        pass\n")
    nb = learner_notebook(before_test=_reader([key, other / "secret.txt", "/tmp", "/dev/shm"]) + spy,
                          submit="import json\n" + submit)
    found = json.loads(grade_nb(env, tmp_path, nb, hide=hide)["model"])
    assert found["0"] in (0, "Not", "Fil"), found  # the key: an empty /dev/null at most
    assert found["1"] in ("Fil", "Not"), found  # the other learner
    assert found["2"] == [], found  # a private /tmp
    assert found["env"] is False, found  # the instructor's secret stays in the grader


@needs_isolation
def test_a_class_graded_outside_the_repository_cannot_read_any_stage_results(env, tmp_path):
    """With ``--work`` anywhere (here a folder in the home directory: neither the repository's ignored ``grading/``
    nor /tmp, which the jail replaces anyway), a learner's jail sees no stage's submissions, reports or feedback
    and no grades.csv; a notebook graded alone does not see its neighbours."""
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="srv-grading-", dir=Path.home()))
    try:
        _class_outside_the_repository(env, tmp_path, work)
    finally:
        shutil.rmtree(work)


def _class_outside_the_repository(env, tmp_path, work):
    from autograder.batch import grade_all
    from autograder.grade import main as grade_main

    root, out = work / "submitted" / STAGE.name, work / "graded" / STAGE.name
    others = [work / "graded" / "zeroshot" / "bob.json", work / "submitted" / "zeroshot" / "bob.ipynb",
              work / "feedback" / "bob.md", work / "grades.csv"]
    for f in others:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("another learner's work")
    root.mkdir(parents=True)
    (root / "neighbour.json").write_text("a neighbour's submission")
    submit = learner_notebook().cells[-1].source.replace("model='synthetic notebook'", "model=json.dumps(found)")
    nb = learner_notebook(before_test=_reader([*others, root / "neighbour.json"]), submit="import json\n" + submit)
    write_notebook(root / "eve.ipynb", nb)
    grade_all(root, STAGE.name, out, jobs=1, solution=env["solution"], limits=FAST)
    found = json.loads(json.loads((out / "eve.json").read_text())["model"])
    assert all(found[str(i)] in ("Fil", "Not") for i in range(len(others) + 1)), found
    # one notebook graded on its own, straight from the class folder: its neighbours stay out of sight too
    report = tmp_path / "eve-alone.json"
    grade_main([str(root / "eve.ipynb"), "--stage", STAGE.name, "--solution", str(env["solution"]),
                "--json", str(report), "--timeout", "90", "--cell-timeout", "30"])
    found = json.loads(json.loads(report.read_text())["model"])
    assert all(found[str(i)] in ("Fil", "Not") for i in range(len(others) + 1)), found


def test_private_paths_never_hide_what_the_notebook_runs_from(tmp_path):
    import sys

    from autograder.workdir import private_paths

    assert private_paths(tmp_path / "w" / "graded" / "orientation") == [
        (tmp_path / "w" / p).resolve() for p in ("graded/orientation", "graded", "submitted", "feedback", "grades.csv")]
    assert private_paths(tmp_path / "class") == [(tmp_path / "class").resolve()]
    for needed in (REPO, REPO.parent, Path(sys.prefix), Path.home()):
        assert private_paths(needed) == [], needed
        with pytest.raises(ValueError, match="graded notebooks need"):
            private_paths(needed, strict=True)  # a class run refuses instead of leaving other learners visible
    # one learner's folder inside a class folder: the whole grading folder is hidden, not only that learner
    alice = tmp_path / "w" / "submitted" / "reproduce" / "alice"
    assert set(private_paths(alice)) >= {(tmp_path / "w" / p).resolve() for p in ("graded", "submitted", "feedback")}
    data = tmp_path / "data"
    data.mkdir()
    assert private_paths(tmp_path, data_dir=data) == []  # the data the notebook reads stays visible


def test_symlinks_fifos_and_devices_are_refused_without_being_followed(env, tmp_path):
    real = write_notebook(tmp_path / "real.ipynb", learner_notebook())
    link = tmp_path / "link.ipynb"
    link.symlink_to(real)
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "submission.json").symlink_to("/etc/passwd")
    for path, words in ((link, "symbolic link"), (fifo, "not a regular file"), (folder, "not a regular file")):
        report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=FAST)
        assert report["exit_code"] == 2 and words in report["messages"][0], report["messages"]


# ---- class 4: breaking the batch / the limits ---------------------------------------------------------------
@pytest.mark.parametrize("cells", [
    [{"cell_type": "code", "source": "x", "metadata": {"nbgrader": "grade"}, "outputs": []}],
    [{"cell_type": "code", "source": "x", "metadata": {"nbgrader": {"grade": True, "grade_id": ["x"]}},
      "outputs": []}],
    [{"cell_type": "code", "source": 42, "metadata": {}, "outputs": []}],
    "not a list"])
def test_malformed_notebook_or_nbgrader_metadata_is_invalid(env, tmp_path, cells):
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=FAST)
    assert report["exit_code"] == 2 and "not a readable Jupyter notebook" in report["messages"][0]


@pytest.mark.parametrize("content", [b"", b"print('hello')\n", b"\xff\xfe garbage"])
def test_broken_notebook_files(env, tmp_path, content):
    path = tmp_path / "learner.ipynb"
    path.write_bytes(content)
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=FAST)
    assert report["exit_code"] == 2 and "not a readable Jupyter notebook" in report["messages"][0]


def test_infinite_loop_hits_the_cell_limit(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(before_test="while True:\n    pass"),
                      limits=Limits(wall_s=60, cell_s=3))
    assert report["exit_code"] == 2 and "per-cell limit" in report["messages"][0]


def test_a_function_that_hangs_when_checked_costs_only_its_parts(env, tmp_path):
    body = "import time\n    if n == 3080:\n        time.sleep(3600)\n    " + RIGHT.replace("\n    ", "\n    ")
    report = grade_nb(env, tmp_path, learner_notebook(body), limits=Limits(wall_s=90, cell_s=30, call_s=3))
    assert exercise(report) == POINTS - 1  # the 3,080-sentence case (1 point) timed out; the rest still count
    assert "took more than 3 s" in report["exercises"][0]["message"]


def test_image_output_flood_counts_toward_the_cap(env, tmp_path):
    flood = ("from IPython.display import display\nblob = 'A' * 2**20\n"
             "for _ in range(64):\n    display({'image/png': blob}, raw=True)")
    report = grade_nb(env, tmp_path, learner_notebook(before_test=flood))
    assert report["exit_code"] == 2 and "more than 5 MB of output" in report["messages"][0]
    assert report["run_seconds"] < 60


def test_crash_mid_run_is_reported_and_the_rest_still_graded(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(before_test="raise RuntimeError('boom')"))
    assert report["exit_code"] == 0 and any("RuntimeError: boom" in m for m in report["messages"])
    # the cell as the learner counts it (from 1, no injected cell) and its first line, to find it
    assert "cell 3 of 5 (\"raise RuntimeError('boom')\") raised RuntimeError: boom" in report["messages"]
    assert exercise(report) == POINTS


def test_crash_before_submission_is_invalid(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(submit="raise MemoryError('no predictions')"))
    assert report["exit_code"] == 2 and "did not write submission.json" in report["messages"][0]
    assert "MemoryError" in report["messages"][0]


@needs_isolation
def test_network_is_blocked_and_writes_outside_scratch_are_prevented(env, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    target = tmp_path / "outside.txt"
    probe = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'leak')\n"
             f"except OSError as exc:\n    print(exc)\nopen({str(target)!r}, 'w').write('pwned')")
    report = grade_nb(env, tmp_path, learner_notebook(before_test=probe))
    with pytest.raises(BlockingIOError):
        server.accept()  # nobody connected from the sandbox
    server.close()
    assert not target.exists()
    assert any("Read-only file system" in m or "No such file" in m for m in report["messages"]), report["messages"]


def test_copied_gold_labels_in_a_notebook_are_flagged(env, tmp_path):
    nb = learner_notebook()
    nb.cells[-1].source = nb.cells[-1].source.replace("if i < 78", "if i < 0").replace("- 78", "- 0")
    report = grade_nb(env, tmp_path, nb)
    assert report["flagged"] and report["score"] == 0 and report["exit_code"] == 1


def test_outputs_and_submission_that_came_in_are_ignored(env, tmp_path):
    nb = learner_notebook(submit="pass  # writes nothing")
    nb.cells[2].outputs = [new_output("execute_result", {"text/plain": "10.0"}, execution_count=1)]
    write_json(tmp_path / "submission.json", submission(env["labels"], 794))
    report = grade_nb(env, tmp_path, nb)
    assert report["exit_code"] == 2 and "did not write submission.json" in report["messages"][0]


# ---- grade-all over a hostile class folder; class 5 (escaping) and echoing tests into feedback ----------------
def test_grade_all_survives_fifo_symlink_and_hanging_notebook_and_escapes_everything(env, tmp_path):
    from autograder.batch import grade_all
    from autograder.leaderboard import render

    labels, root, out = env["labels"], tmp_path / "class", tmp_path / "results"
    root.mkdir()
    write_json(root / "ana.json", submission(labels, 794, model="=HYPERLINK(\"http://x\",\"y\")",
                                             team="<script>alert(1)</script>|[x](http://evil)"))
    write_json(root / "ben.json", submission(labels, 780, model="+1-1", learner="@SUM(A1)"))
    write_notebook(root / "cara.ipynb", learner_notebook(WRONG))
    write_notebook(root / "dan.ipynb", learner_notebook(before_test="import time\ntime.sleep(3600)"))
    os.mkfifo(root / "eve.json")
    (root / "fay.json").symlink_to(root / "ana.json")
    limits = Limits(wall_s=25, cell_s=600, call_s=20, checks_s=60, memory_mb=4096, output_mb=5)
    summary = grade_all(root, STAGE.name, out, jobs=2, solution=env["solution"], limits=limits)
    assert summary["graded"] == 6
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert reports["dan"]["exit_code"] == 2 and "wall-clock" in reports["dan"]["messages"][0]
    assert reports["eve"]["exit_code"] == 2 and "not a regular file" in reports["eve"]["messages"][0]
    assert reports["fay"]["exit_code"] == 2 and "symbolic link" in reports["fay"]["messages"][0]
    # every other learner's verdict is what grading them alone gives
    for name in ("ana", "ben"):
        alone = grade_path(root / f"{name}.json", STAGE, env["gold"])
        assert (reports[name]["exit_code"], reports[name]["score"]) == (alone["exit_code"], alone["score"])
    assert reports["cara"]["exit_code"] == 0 and reports["cara"]["exercise_score"] == expected_score(WRONG)
    # CSV: no cell a spreadsheet would run
    for row in csv.DictReader(open(out / "grades.csv", encoding="utf-8")):
        assert not any(str(v).startswith(("=", "+", "-", "@")) for v in row.values()), row
    board = render(out)
    assert "<script>" not in board and "&lt;script&gt;" in board and "[x](http" not in board  # no HTML, no link
    for line in board.splitlines():
        if line.startswith("| ") and "ana" not in line or "script" in line:
            assert line.count(" | ") == 7, line  # no injected pipes: still eight columns
    # no feedback quotes the hidden test
    for md in out.glob("*.md"):
        text = md.read_text()
        assert "grade(checks." not in text and "BEGIN HIDDEN" not in text


def _parameterised(nb):
    """The learner notebook with a papermill parameters cell: ``wrong`` sentences are flipped."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell("wrong = 78")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.insert(1, cell)
    nb.cells[-1].source = nb.cells[-1].source.replace("if i < 78", "if i < wrong").replace("- 78)", "- wrong)")
    return nb


def test_notebook_parameters_reach_the_re_run(env, tmp_path):
    """-p NAME=VALUE (e.g. size=small) is injected by papermill into the re-run, and the report lists it."""
    path = write_notebook(tmp_path / "p.ipynb", _parameterised(learner_notebook()))
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=FAST, parameters={"wrong": 10})
    assert report["correct"] == len(env["labels"]) - 10 and report["run_parameters"] == {"wrong": 10}
    plain = grade_path(write_notebook(tmp_path / "q.ipynb", learner_notebook()), STAGE, env["gold"],
                       solution=env["solution"], limits=FAST, parameters={"wrong": 10})
    assert any("no cell tagged 'parameters'" in m for m in plain["messages"])


@pytest.mark.parametrize("pairs,expect", [(["train_limit=2000", "rates=[1e-4, 3e-5]", "x=null", "s=small"],
                                          {"train_limit": 2000, "rates": [1e-4, 3e-5], "x": None, "s": "small"}),
                                         (["novalue"], "NAME=VALUE"), (["2x=1"], "NAME=VALUE"),
                                         (["profile=online"], "always runs offline"), (["a=[1,"], "not valid YAML")])
def test_parameter_option_parsing(pairs, expect):
    from autograder.grade import parse_parameters

    if isinstance(expect, dict):
        assert parse_parameters(pairs) == expect
    else:
        with pytest.raises(ValueError, match=expect):
            parse_parameters(pairs)


def test_limits_only_fallback_still_grades_outside_the_kernel(env, tmp_path, monkeypatch):
    """Without unshare (forced here), the same worker and trusted grader run with the limits only, and say so."""
    from autograder.grade import summary

    monkeypatch.setenv("AUTOGRADER_ISOLATION", "limits-only")
    isolation_available.cache_clear()
    try:
        report = grade_nb(env, tmp_path, learner_notebook(WRONG, before_test=TAMPER.split("import stat")[0]))
    finally:
        monkeypatch.delenv("AUTOGRADER_ISOLATION")
        isolation_available.cache_clear()
    assert report["sandbox"]["mode"] == "limits-only" and "isolation: limits-only" in summary(report)
    assert any("NO hiding" in line for line in report["sandbox"]["not_enforced"])
    assert exercise(report) == expected_score(WRONG) and report["correct"] == len(env["labels"]) - 78


@needs_isolation
def test_a_notebook_that_returns_the_checks_own_reference_answer_scores_as_blank(env, tmp_path):
    """In the jail ``autograder.checks`` is a stub (``autograder/jail_checks``): the test cells' imports work,
    the checks' reference functions are not there, so forwarding the hidden cases to them earns nothing."""
    body = ("from autograder.checks.orientation import _sentences_needed\n"
            "    return _sentences_needed(points, n)")
    report = grade_nb(env, tmp_path, learner_notebook(body))
    assert exercise(report) == expected_score(BLANK) == 0
    spy = ("import autograder.checks as c\nfrom autograder.checks import grade, orientation as checks\n"
           "from autograder.checks.orientation import check_sentences_needed\nimport autograder.checks.zeroshot as z\n"
           "from autograder.grade import grade_path, summary\n"
           "found = {'stub': getattr(c, 'JAIL_STUB', False), 'check': checks.check_sentences_needed(None),\n"
           "         'forms': [check_sentences_needed(1), z.check_cosine_scores(1), grade(None, show=False)]}\n")
    submit = learner_notebook().cells[-1].source.replace("model='synthetic notebook'", "model=json.dumps(found)")
    report = grade_nb(env, tmp_path, learner_notebook(before_test=spy, submit="import json\n" + submit))
    assert json.loads(report["model"]) == {"stub": True, "check": None, "forms": [None, None, None]}
    assert not any(" raised " in m for m in report["messages"]), report["messages"]
    assert exercise(report) == expected_score(RIGHT)   # the real check, run by the grader, still scores it


@needs_isolation
def test_the_real_solution_runs_in_the_jail_without_a_cell_error(env, tmp_path):
    """The course's own notebook, graded as a learner's in the jail (where autograder.checks is the stub): full
    marks, and no cell raises (its submit cell imports autograder.grade, which must not need the real checks)."""
    import shutil

    nb = tmp_path / "orientation.ipynb"
    shutil.copy(REPO / "solutions" / "orientation" / "orientation.ipynb", nb)
    report = grade_path(nb, "orientation", limits=FAST)
    assert report["sandbox"]["mode"] == "namespace jail" and report["passed"], report["messages"]
    assert report["exercise_score"] == report["exercise_max"] == 30
    assert not any(" raised " in m for m in report["messages"]), report["messages"]
