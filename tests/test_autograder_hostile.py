"""Hostile and broken notebook submissions: each is graded with a clear message and exit code, and none can
raise its own score. Tiny synthetic notebooks (no models) write submission.json from the real labels."""
from __future__ import annotations

import json
import socket

import pytest
from nbformat.v4 import new_output

from autograder.grade import grade_path, load_gold
from autograder.sandbox import Limits, isolation_available
from autograder.stages import get_stage
from fixtures.autograder.synth import (CASES, gold_labels, learner_notebook, solution_notebook, submission,
                                       write_json, write_notebook)

pytestmark = pytest.mark.notebook
STAGE = get_stage("reproduce")
FAST = Limits(wall_s=90, cell_s=30, memory_mb=4096, output_mb=5)
needs_isolation = pytest.mark.skipif(not isolation_available(), reason="unshare/setpriv unavailable (not root?)")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("autograder_nb")
    return {"dir": d, "solution": write_notebook(d / "solution.ipynb", solution_notebook()),
            "gold": load_gold(STAGE), "labels": gold_labels()}


def grade_nb(env, tmp_path, nb, name="learner.ipynb", limits=FAST):
    path = write_notebook(tmp_path / name, nb)
    before = path.read_bytes()
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=limits)
    assert path.read_bytes() == before  # the submission is never modified
    return report


def test_honest_notebook(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook())
    assert report["exit_code"] == 0 and report["correct"] == len(env["labels"]) - 78
    assert report["exercises"] == [{"grade_id": "test_double", "max_score": 4.0, "score": 4.0, "message": ""}]
    assert not any("edited" in m for m in report["messages"])  # the student version is not an edit
    assert report["sandbox"]["mode"] in ("namespaces", "limits-only")


def test_deleted_hidden_test_is_restored(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook("return x + 1", test_source=None))
    assert any("'test_double' was missing" in m for m in report["messages"])
    assert report["exercises"][0]["score"] == sum(x + 1 == 2 * x for x in CASES)


def test_edited_test_cell_is_restored(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook("return 0", test_source="4  # full marks, trust me"))
    assert any("had been edited" in m for m in report["messages"])
    assert report["exercises"][0]["score"] == sum(0 == 2 * x for x in CASES)


def test_monkeypatched_checks_do_not_raise_the_score(env, tmp_path):
    patch = ("import autograder.checks as c, textclass.evaluate as e\n"
             "c.grade = lambda r, show=True: 4.0\n"
             "c.CheckResult.score = property(lambda self: 4.0)\n"
             "c.CheckResult.add = lambda self, d, ok, p, m='': self.parts.append((d, p, p, ''))\n"
             "grade = c.grade\n"
             "get_ipython().display_formatter.formatters['text/plain'].for_type(float, lambda x, p, cyc: p.text('4'))")
    report = grade_nb(env, tmp_path, learner_notebook("return x + 1", before_test=patch))
    assert report["exercises"][0]["score"] == sum(x + 1 == 2 * x for x in CASES) < 4


def test_infinite_loop_hits_the_cell_limit(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(before_test="while True:\n    pass"),
                      limits=Limits(wall_s=60, cell_s=3))
    assert report["exit_code"] == 2 and "per-cell limit" in report["messages"][0]


def test_infinite_loop_hits_the_wall_clock(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(before_test="import time\nwhile True:\n    time.sleep(1)"),
                      limits=Limits(wall_s=8, cell_s=60))
    assert report["exit_code"] == 2 and "wall-clock limit" in report["messages"][0]


def test_gigabyte_of_output_is_cut_off(env, tmp_path):
    flood = "chunk = 'x' * 2**20\nfor _ in range(1024):\n    print(chunk)"
    report = grade_nb(env, tmp_path, learner_notebook(before_test=flood))
    assert report["exit_code"] == 2 and "printed more than 5 MB" in report["messages"][0]
    assert report["run_seconds"] < 60


def test_crash_mid_run_is_reported_and_the_rest_still_graded(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(before_test="raise RuntimeError('boom')"))
    assert report["exit_code"] == 0 and any("RuntimeError: boom" in m for m in report["messages"])


def test_crash_before_submission_is_invalid(env, tmp_path):
    report = grade_nb(env, tmp_path, learner_notebook(submit="raise MemoryError('no predictions')"))
    assert report["exit_code"] == 2 and "did not write submission.json" in report["messages"][0]
    assert "MemoryError" in report["messages"][0]


@needs_isolation
def test_network_is_blocked(env, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    probe = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'leak')"
    report = grade_nb(env, tmp_path, learner_notebook(before_test=probe))
    with pytest.raises(BlockingIOError):
        server.accept()  # nobody connected from the sandbox
    server.close()
    assert any("ConnectionRefusedError" in m or "OSError" in m for m in report["messages"]), report["messages"]


@needs_isolation
def test_writes_outside_scratch_are_prevented(env, tmp_path):
    target = tmp_path / "outside.txt"
    report = grade_nb(env, tmp_path, learner_notebook(before_test=f"open({str(target)!r}, 'w').write('pwned')"))
    assert not target.exists()
    assert any("Read-only file system" in m for m in report["messages"]), report["messages"]


def test_copied_gold_labels_in_a_notebook_are_flagged(env, tmp_path):
    nb = learner_notebook()
    nb.cells[-1].source = nb.cells[-1].source.replace("if i < 78", "if i < 0").replace("- 78", "- 0")
    report = grade_nb(env, tmp_path, nb)
    assert report["flagged"] and report["score"] == 0 and report["exit_code"] == 1


def test_outputs_and_submission_that_came_in_are_ignored(env, tmp_path):
    nb = learner_notebook(submit="pass  # writes nothing")
    nb.cells[2].outputs = [new_output("execute_result", {"text/plain": "4.0"}, execution_count=1)]
    write_json(tmp_path / "submission.json", submission(env["labels"], 794))
    report = grade_nb(env, tmp_path, nb)
    assert report["exit_code"] == 2 and "did not write submission.json" in report["messages"][0]


@pytest.mark.parametrize("content, expect", [(b"", "not a readable Jupyter notebook"),
                                             (b"print('hello')\n", "not a readable Jupyter notebook")])
def test_broken_notebook_files(env, tmp_path, content, expect):
    path = tmp_path / "learner.ipynb"
    path.write_bytes(content)
    report = grade_path(path, STAGE, env["gold"], solution=env["solution"], limits=FAST)
    assert report["exit_code"] == 2 and expect in report["messages"][0]


def test_feedback_never_contains_hidden_test_source(env, tmp_path):
    from autograder.batch import feedback_markdown

    report = grade_nb(env, tmp_path, learner_notebook("return x + 1", test_source=None))
    text = json.dumps(report) + feedback_markdown({**report, "learner": "x"})
    assert "_r.add" not in text and "CheckResult('double'" not in text


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
    default = grade_nb(env, tmp_path, _parameterised(learner_notebook()))
    assert default["correct"] == len(env["labels"]) - 78 and "run_parameters" not in default
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
    from autograder.__main__ import _parameters

    if isinstance(expect, dict):
        assert _parameters(pairs) == expect
    else:
        with pytest.raises(ValueError, match=expect):
            _parameters(pairs)
