"""grade-all on a folder of generated submissions (JSON, notebooks, broken ones), resumability, grades.csv
and the leaderboard. Expected results are computed here from the real labels, independently of the grader."""
from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import time

import nbformat
import pytest

from autograder.leaderboard import render
from autograder.stages import get_stage
from fixtures.autograder.synth import (POINTS, gold_labels, learner_notebook, solution_notebook, submission,
                                       write_json, write_notebook)

STAGE = get_stage("reproduce")
REPO = __import__("pathlib").Path(__file__).resolve().parent.parent


def expected(correct: int, n: int) -> tuple[int, float]:
    """(exit code, score) straight from the stage's definition: band 91.3 +- 0.5, linear falloff."""
    acc = 100 * correct / n
    lo, hi = STAGE.target - STAGE.tolerance, STAGE.target + STAGE.tolerance
    d = max(lo - acc, acc - hi, 0)
    return (0 if d == 0 else 1), round(STAGE.points * max(0.0, 1 - d / STAGE.zero_at), 2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    labels, rng = gold_labels(), random.Random(7)
    root = tmp_path_factory.mktemp("batch")
    subs, want = root / "submissions", {}
    subs.mkdir()
    for i in range(44):  # JSON submissions around the band
        correct = rng.randint(760, 830)
        extra = {"parameters": rng.choice([66_000_000, None]), "latency_ms": rng.choice([3.5, None]),
                 "team": "team-a" if i % 11 == 0 else None}
        write_json(subs / f"learner{i:02d}.json", submission(labels, correct, **{k: v for k, v in extra.items() if v}))
        want[f"learner{i:02d}"] = expected(correct, len(labels))
    for i, wrong in enumerate((78, 70, 90)):  # notebooks, one in a folder with a stale submission.json
        d = subs / f"nb{i}"
        d.mkdir()
        nb = learner_notebook()
        nb.cells[-1].source = nb.cells[-1].source.replace("< 78", f"< {wrong}").replace("- 78", f"- {wrong}")
        write_notebook(d / "work.ipynb", nb)
        want[f"nb{i}"] = expected(len(labels) - wrong, len(labels))
    write_json(subs / "nb0" / "submission.json", submission(labels, 872))
    (subs / "empty.json").write_bytes(b"")
    write_json(subs / "short.json", submission(labels, 794) | {"predictions": [0] * 5})
    write_json(subs / "nan.json", json.dumps(submission(labels, 794)).replace("[", "[NaN, ", 1).replace(", 0]", "]"))
    (subs / "binary.json").write_bytes(bytes(range(256)) * 10)
    write_json(subs / "copied.json", submission(labels, len(labels)))
    want.update(empty=(2, 0.0), short=(2, 0.0), nan=(2, 0.0), binary=(2, 0.0), copied=(1, 0.0))
    write_notebook(root / "solution.ipynb", solution_notebook())
    return root, want


def test_grade_all_grades_every_submission_correctly(folder):
    root, want = folder
    assert len(want) >= 50
    out = root / "results"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "autograder", "grade-all", root / "submissions", "--stage",
                             "reproduce", "--out", out, "--jobs", "2", "--solution", root / "solution.ipynb",
                             "--timeout", "120", "--cell-timeout", "60"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    seconds = time.perf_counter() - start
    print(f"\ngrade-all: {len(want)} submissions in {seconds:.1f} s (2 jobs)")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["graded"] == len(want)
    # every learner has a line in the table above the summary; the outcomes add up, and all fail or not, exit 0
    table = result.stdout.strip().splitlines()[:-1]
    assert sorted(line.split()[0] for line in table) == sorted(want)
    assert summary["outcomes"]["invalid"] == sum(code == 2 for code, _ in want.values())
    assert sum(summary["outcomes"].values()) == len(want) and "grader error" not in summary["outcomes"]
    assert any(line.split()[1] == "flagged" for line in table if line.split()[0] == "copied")
    for learner, (code, score) in want.items():
        report = json.loads((out / f"{learner}.json").read_text())
        assert (report["exit_code"], report["score"]) == (code, score), (learner, report["messages"])
        assert (out / f"{learner}.md").read_text().startswith(f"# {learner}")
    assert json.loads((out / "copied.json").read_text())["flagged"]
    nb0 = json.loads((out / "nb0.json").read_text())
    assert nb0["exercise_score"] == POINTS and any("differs from the one the notebook produced" in m
                                              for m in nb0["messages"])
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert {r["learner"]: int(r["exit_code"]) for r in rows} == {k: v[0] for k, v in want.items()}
    # an invalid submission counts 0 out of the stage's points, as in the export's column of the same name
    assert {float(r["max_score"]) for r in rows} == {float(get_stage("reproduce").points)}
    assert not list((out / ".work").iterdir())

    # resumable: nothing changed, nothing regraded; one changed, only it regraded
    before = (out / "learner01.json").read_bytes()
    from autograder.batch import grade_all
    from autograder.sandbox import Limits

    same = {"solution": root / "solution.ipynb", "limits": Limits(wall_s=120, cell_s=60)}  # the command line's
    assert grade_all(root / "submissions", "reproduce", out, **same)["graded"] == 0
    labels = gold_labels()
    write_json(root / "submissions" / "learner02.json", submission(labels, 794))
    summary = grade_all(root / "submissions", "reproduce", out, **same)
    assert summary == summary | {"graded": 1, "skipped": len(want) - 1}
    assert json.loads((out / "learner02.json").read_text())["correct"] == 794
    assert (out / "learner01.json").read_bytes() == before

    # leaderboard: valid, unflagged results only, best first, one row per learner (a submitted team shown beside it)
    text = render(out)
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    shown = [line.split(" | ")[1] for line in table]
    accs = [float(line.split(" | ")[3]) for line in table]
    # a reproduction stage ranks by score, then by closeness to the published number (overshooting is no better)
    scores = [STAGE.score(a) for a in accs]
    assert scores == sorted(scores, reverse=True)
    for (s1, a1), (s2, a2) in zip(zip(scores, accs), zip(scores[1:], accs[1:])):
        assert s1 > s2 or abs(a1 - STAGE.target) <= abs(a2 - STAGE.target) + 0.006
    assert "copied" not in shown and "short" not in shown and "empty" not in shown
    team = [f"learner{i:02d}" for i in range(0, 44, 11)]
    assert sorted(w for w in shown if "team-a" in w) == [f"{n} (team-a)" for n in team if want[n][0] < 2]
    assert "nb1" in shown
    valid = [json.loads((out / f"{k}.json").read_text()) for k, v in want.items() if v[0] < 2 and k != "copied"]
    best = min(valid, key=lambda r: (-STAGE.score(r["accuracy"]), abs(r["accuracy"] - STAGE.target)))
    assert accs[0] == round(best["accuracy"], 2)  # the full-score result closest to the published number
    subprocess.run([sys.executable, "-m", "autograder", "leaderboard", out, "--out", root / "lb.md"], check=True,
                   cwd=REPO, timeout=60)
    assert (root / "lb.md").read_text() == text


def test_a_crashing_grader_process_does_not_stop_the_others(tmp_path, monkeypatch):
    from autograder import batch

    labels = gold_labels()
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "boom", "c"):
        write_json(subs / f"{name}.json", submission(labels, 794))
    real = batch.grade_path

    def flaky(path, *args, **kwargs):
        if "boom" in str(path):
            import os
            os._exit(9)  # the grading process dies
        return real(path, *args, **kwargs)

    monkeypatch.setattr(batch, "grade_path", flaky)
    batch.grade_all(subs, "reproduce", tmp_path / "out")
    reports = {n: json.loads((tmp_path / "out" / f"{n}.json").read_text()) for n in ("a", "boom", "c")}
    assert reports["a"]["exit_code"] == reports["c"]["exit_code"] == 0
    assert reports["boom"]["exit_code"] == 3 and "exit 9" in reports["boom"]["messages"][0]


def test_a_rerun_grades_again_when_the_secret_or_solution_changes_or_when_forced(tmp_path, monkeypatch):
    """Resuming skips only learners graded with the same inputs *and* the same secret, solution and checks."""
    from autograder.batch import grade_all

    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    labels = gold_labels()
    subs, out = tmp_path / "submissions", tmp_path / "out"
    subs.mkdir()
    for i, correct in enumerate((794, 780, 700)):
        write_json(subs / f"learner{i}.json", submission(labels, correct))
    solution = tmp_path / "solution.ipynb"
    write_notebook(solution, solution_notebook())
    run = lambda **kw: grade_all(subs, "reproduce", out, solution=solution, **kw)  # noqa: E731
    first = run()
    assert first["graded"] == 3 and first["hidden_cases"].startswith("PUBLIC DEFAULT")
    assert run()["graded"] == 0
    monkeypatch.setenv("AUTOGRADER_SECRET", "a rotated secret")
    rotated = run()
    assert rotated["graded"] == 3 and rotated["hidden_cases"].startswith("instructor secret"), rotated
    assert run()["graded"] == 0
    nb = solution_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("an edited solution"))
    write_notebook(solution, nb)
    assert run()["graded"] == 3
    assert run(force=True)["graded"] == 3
    assert json.loads((out / "learner0.json").read_text())["correct"] == 794


def test_a_stale_report_in_the_results_folder_is_not_counted(tmp_path):
    """The summary counts this class's learners: a report left by a learner who is gone neither adds to the
    outcomes nor turns the run's exit code into a grader error."""
    from autograder.batch import grade_all
    from autograder.grade import main

    labels = gold_labels()
    root, out = tmp_path / "class", tmp_path / "results"
    root.mkdir()
    out.mkdir()
    write_json(root / "ana.json", submission(labels, 794))
    (out / "ghost.json").write_text(json.dumps({"learner": "ghost", "stage": "reproduce", "exit_code": 3}))
    summary = grade_all(root, "reproduce", out)
    assert summary["outcomes"] == {"passed": 1}
    assert main([str(root), "--stage", "reproduce", "--out", str(out), "--force"]) == 0
