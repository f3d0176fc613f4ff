"""What a hostile submission can do to the grader's reports and the instructor's files: the cases of a review that
forged grades against the real CLI (each test runs ``python -m autograder``, real files, no mocks)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.autograder.synth import gold_labels, submission, write_json

REPO = Path(__file__).resolve().parent.parent


def cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def labels():
    return gold_labels()


def test_feedback_names_its_folder_by_the_report_file_never_by_the_submitted_learner(tmp_path, labels):
    """A report made with ``grade FILE --json WORK/graded/<stage>/NAME.json`` copies the submission's ``learner``;
    feedback writes under ``NAME`` (the instructor's file name), never under ``../../x`` or an absolute path."""
    work = tmp_path / "work"
    for name, learner in (("rel", "../../pwned"), ("abs", str(tmp_path / "abs-pwned"))):
        sub = write_json(tmp_path / f"{name}-in.json", submission(labels, 794, stage="improve", learner=learner))
        cli("grade", sub, "--stage", "improve", "--json", work / "graded" / "improve" / f"{name}.json")
    done = cli("feedback", "--work", work)
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(work / "feedback").as_posix() for p in (work / "feedback").rglob("*.md")) == \
        ["abs/improve.md", "rel/improve.md"]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "abs-pwned").exists()


def test_a_kept_submission_is_not_read_as_a_report(tmp_path, labels):
    """``--keep-submission`` puts the learner's own JSON beside the report: a forged "passed, 99.99%" in it never
    reaches the leaderboard or grades.csv; the real report (not passed, 50.92%) does."""
    forged = submission(labels, 0, stage="improve", predictions=[1] * len(labels), claimed_accuracy=None)
    forged.update(learner="mallory", exit_code=0, accuracy=99.99, score=10, passed=True, flagged=False)
    graded = tmp_path / "work" / "graded" / "improve"
    done = cli("grade", write_json(tmp_path / "mallory-in.json", forged), "--stage", "improve",
               "--json", graded / "mallory.json", "--keep-submission")
    assert done.returncode == 1 and (graded / "mallory-submission.json").is_file()
    board = cli("leaderboard", graded)
    assert "99.99" not in board.stdout and "50.92" in board.stdout
    assert cli("export", "--work", tmp_path / "work").returncode == 0
    rows = (tmp_path / "work" / "grades.csv").read_text().splitlines()[1:]
    assert len(rows) == 1 and rows[0].startswith("mallory,improve,0") and "99.99" not in rows[0]


def test_a_team_a_submission_names_does_not_replace_a_classmates_row(tmp_path, labels):
    """The leaderboard's identity is the learner's file; a submitted ``team`` is shown beside it, and the date is
    the grader's, not the submitted ``created``."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    write_json(subs / "alice.json", submission(labels, 812, stage="improve"))
    write_json(subs / "mallory.json", submission(labels, 820, stage="improve", team="alice", created="2020-01-01"))
    assert cli("grade", subs, "--stage", "improve", "--out", out).returncode == 0
    table = [line for line in cli("leaderboard", out).stdout.splitlines() if line.startswith("| ") and "rank" not in line]
    shown = [line.split(" | ")[1] for line in table]
    assert shown == ["mallory (alice)", "alice"]
    assert "2020-01-01" not in "\n".join(table)


@pytest.mark.parametrize("field, value", [("profile", "\ud800x"), ("model", "\x1b[3A\r\x1b[2Kstage improve: PASSED")])
def test_control_characters_and_lone_surrogates_never_reach_the_terminal_or_break_a_class(tmp_path, labels, field,
                                                                                          value):
    """A submitted string with a lone surrogate or a terminal escape: the single grade prints its verdict and
    writes its report (exit 1, not a traceback); in a class run the next learner is graded all the same and
    feedback works for everyone."""
    sub = write_json(tmp_path / "eve.json", submission(labels, 700, stage="improve", **{field: value}))
    done = cli("grade", sub, "--stage", "improve", "--json", tmp_path / "r.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "\x1b" not in done.stdout and "\r" not in done.stdout and "NOT PASSED" in done.stdout
    assert json.loads((tmp_path / "r.json").read_text())["accuracy"] == pytest.approx(100 * 700 / len(labels), abs=1e-3)
    work = tmp_path / "work"
    (work / "submitted" / "improve").mkdir(parents=True)
    (work / "submitted" / "improve" / "eve.json").write_bytes(sub.read_bytes())
    write_json(work / "submitted" / "improve" / "zoe.json", submission(labels, 800, stage="improve"))
    assert cli("grade", work / "submitted" / "improve", "--stage", "improve",
               "--out", work / "graded" / "improve").returncode == 0
    assert {p.name for p in (work / "graded" / "improve").glob("*.md")} == {"eve.md", "zoe.md"}
    assert cli("feedback", "--work", work).returncode == 0
    assert (work / "feedback" / "zoe" / "improve.md").is_file()


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"stage": "improve", "predictions": [' + "9" * 5000 + "]}"])
def test_a_submission_too_deep_or_with_a_huge_number_is_invalid_not_a_grader_error(tmp_path, text):
    path = tmp_path / "x.json"
    path.write_text(text)
    done = cli("grade", path, "--stage", "improve")
    assert done.returncode == 2 and "not a submission" in done.stdout and "Traceback" not in done.stderr
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "x.json").write_text(text)
    done = cli("grade", tmp_path / "class", "--stage", "improve", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stdout[-1500:]   # 3 would be a grader error
    assert json.loads((tmp_path / "out" / "x.json").read_text())["exit_code"] == 2


def test_the_grader_never_writes_over_a_submission(tmp_path, labels):
    sub = write_json(tmp_path / "single.json", submission(labels, 794, stage="improve"))
    before = sub.read_bytes()
    done = cli("grade", sub, "--stage", "improve", "--json", sub)
    assert done.returncode == 2 and "the submission itself" in done.stderr
    (tmp_path / "class").mkdir()
    write_json(tmp_path / "class" / "a.json", submission(labels, 794, stage="improve"))
    for out in (tmp_path / "class", tmp_path / "class" / "graded"):
        done = cli("grade", tmp_path / "class", "--stage", "improve", "--out", out)
        assert done.returncode == 2 and "inside the class folder" in done.stderr
    assert sub.read_bytes() == before and [p.name for p in (tmp_path / "class").iterdir()] == ["a.json"]


def test_learner_names_never_collide_nor_take_a_classmates_name(tmp_path, labels):
    """Names made from file names (characters replaced) get a suffix that no other file's own name has: three
    learners, three reports, each learner's own name kept by the file that has it."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    accs = {"victim#.json": 700, "victim_.json": 800, "victim__1.json": 790, "_.json": 780, "é.json": 760}
    for name, correct in accs.items():
        write_json(subs / name, submission(labels, correct, stage="improve"))
    assert cli("grade", subs, "--stage", "improve", "--out", out).returncode == 0
    reports = {p.stem: json.loads(p.read_text())["correct"] for p in out.glob("*.json") if p.stem != "grades"}
    assert len(reports) == len(accs)
    assert reports["victim_"] == 800 and reports["victim__1"] == 790 and reports["_"] == 780
    assert sorted(reports.values()) == sorted(accs.values())


def test_a_learner_called_like_a_kept_copy_is_still_graded_and_exported(tmp_path, labels):
    """Only a ``NAME-submission.json`` that ``NAME.json`` names as its kept copy is skipped: a learner whose own
    name ends in ``-submission`` is on grades.csv like everyone else."""
    subs, out = tmp_path / "work" / "submitted" / "improve", tmp_path / "work" / "graded" / "improve"
    subs.mkdir(parents=True)
    write_json(subs / "jo-submission.json", submission(labels, 800, stage="improve"))
    write_json(subs / "jo.json", submission(labels, 790, stage="improve"))
    assert cli("grade", subs, "--stage", "improve", "--out", out).returncode == 0
    assert cli("export", "--work", tmp_path / "work").returncode == 0
    rows = (tmp_path / "work" / "grades.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["jo", "jo-submission"]


def test_a_report_inside_a_folder_submission_is_refused(tmp_path, labels):
    folder = tmp_path / "alice"
    folder.mkdir()
    sub = write_json(folder / "submission.json", submission(labels, 794, stage="improve"))
    before = sub.read_bytes()
    done = cli("grade", folder, "--stage", "improve", "--json", sub)
    assert done.returncode == 2 and "inside it" in done.stderr and sub.read_bytes() == before


def test_plain_text_keeps_every_script_and_space_and_drops_only_controls():
    from autograder.escape import plain_text

    assert plain_text("naïve\u00a0café zwj\u200dé 日本 a\r\nb\tc") == "naïve\u00a0café zwj\u200dé 日本 a\nb\tc"
    assert plain_text("\x1b[2Kx\ry\ud800\u202e") == "\ufffd[2Kx\ufffdy\ufffd\ufffd"


def _report(folder: Path, name: str, stage: str, accuracy: float, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    report = {"exit_code": 0, "stage": stage, "accuracy": accuracy, "score": 10.0, "max_score": 10.0,
              "passed": True, **extra}
    (folder / f"{name}.json").write_text(json.dumps(report))


def test_the_leaderboard_of_several_stages_names_learners_plainly(tmp_path):
    work = tmp_path / "work"
    _report(work / "graded" / "orientation", "bob", "orientation", 50.92, learner="bob")
    _report(work / "graded" / "reproduce", "erin", "reproduce", 91.06, learner="erin")
    proc = cli("leaderboard", "--work", work)
    assert proc.returncode == 0, proc.stderr
    assert "| bob |" in proc.stdout and "| erin |" in proc.stdout and "--bob" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("where", ["missing", "empty", "parent"])
def test_the_leaderboard_of_a_wrong_folder_writes_nothing(tmp_path, where):
    """A mistyped folder must not blank a published board: exit 2, the --out file untouched."""
    work = tmp_path / "work"
    _report(work / "graded" / "orientation", "bob", "orientation", 50.92, learner="bob")
    folder = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "parent": work / "graded"}[where]
    if where == "empty":
        folder.mkdir()
    board = tmp_path / "leaderboard.md"
    board.write_text("# the published board\n")
    proc = cli("leaderboard", folder, "--out", board)
    assert proc.returncode == 2 and board.read_text() == \
        "# the published board\n", proc.stdout + proc.stderr


def test_a_report_made_with_grade_json_counts_in_the_export(tmp_path):
    """``grade carol.ipynb --json WORK/graded/<stage>/carol.json`` (regrading one learner) writes a report without
    a ``learner``: it is carol's, by its file name, in the export and on the board."""
    work = tmp_path / "work"
    _report(work / "graded" / "orientation", "bob", "orientation", 50.92, learner="bob")
    _report(work / "graded" / "orientation", "carol", "orientation", 50.92)
    proc = cli("export", "--work", work)
    assert proc.returncode == 0 and "2 row(s)" in proc.stdout, proc.stdout + proc.stderr
    assert "carol" in (work / "grades.csv").read_text()


def test_the_export_totals_the_stage_and_its_levels_exercises(tmp_path):
    """A submission.json alone scores the stage, not the exercises its level's notebook would add: its total is out
    of both, so an LMS import of the total cannot give it the notebook's full marks."""
    import csv

    work = tmp_path / "work"
    _report(work / "graded" / "orientation", "dave", "orientation", 50.92, learner="dave")
    _report(work / "graded" / "orientation", "bob", "orientation", 50.92, learner="bob", exercise_score=30.0,
            exercise_max=30.0)
    assert cli("export", "--work", work).returncode == 0
    rows = {r["learner"]: r for r in csv.DictReader((work / "grades.csv").open())}
    assert (rows["dave"]["total"], rows["dave"]["total_max"]) == ("10.0", "40.0")
    assert (rows["bob"]["total"], rows["bob"]["total_max"]) == ("40.0", "40.0")


def test_a_learners_exception_text_cannot_forge_a_line_of_the_report():
    from autograder.scoring import summary

    forged = "cell 7 raised RuntimeError: x\nstage orientation: PASSED\n  exercises 30/30"
    report = {"stage": "orientation", "exit_code": 2, "passed": False, "messages": ["INVALID: no submission", forged],
              "how_to_improve": "Fix the problem above and submit again.", "exercises": [
                  {"grade_id": "test_label_balance", "score": 0, "max_score": 10, "message": "raised E: a\nPASSED"}]}
    lines = summary(report).splitlines()
    assert not any(line.startswith(("stage orientation: PASSED", "PASSED", "  exercises")) for line in lines), lines
    assert lines[0] == "stage orientation: INVALID" and any("\u23ce stage orientation: PASSED" in line for line in lines)


@pytest.mark.parametrize("profile", ["online", "offline"])
def test_a_reproduce_notebook_with_its_online_submission_earns_both(tmp_path, labels, profile):
    """The grader re-runs a notebook offline, where the reproduce stage cannot pass: a submission.json of an online
    run handed in beside it grades the stage (as it would alone), and the re-executed notebook the exercises. An
    offline submission.json beside it changes nothing: the re-executed notebook's predictions are graded."""
    from fixtures.autograder.synth import sample_notebook

    import nbformat

    folder = tmp_path / "ola"
    folder.mkdir()
    nbformat.write(sample_notebook("notebook", 200, 1, "ola"), folder / "reproduce.ipynb")   # 672/872 offline
    write_json(folder / "submission.json", submission(labels, 794, profile=profile))
    report = tmp_path / "ola.json"
    proc = cli("grade", folder, "--stage", "reproduce", "--json", report)
    r = json.loads(report.read_text())
    assert r["exercise_score"] == r["exercise_max"] == 30, r
    if profile == "online":
        assert proc.returncode == 0 and r["correct"] == 794 and r["passed"], proc.stdout
        assert "graded from the submission.json handed in with the notebook" in proc.stdout
    else:
        assert proc.returncode == 1 and r["correct"] == 672 and not r["passed"], proc.stdout


def test_a_level_with_two_stages_counts_its_exercises_once(tmp_path):
    import csv

    work = tmp_path / "work"
    for stage in ("embeddings-probe", "embeddings-banking77"):
        _report(work / "graded" / stage, "ana", stage, 85.0, learner="ana", exercise_score=30.0, exercise_max=30.0)
    assert cli("export", "--work", work).returncode == 0
    rows = {r["stage"]: r for r in csv.DictReader((work / "grades.csv").open())}
    assert (rows["embeddings-probe"]["total"], rows["embeddings-probe"]["total_max"]) == ("40.0", "40.0")
    assert (rows["embeddings-banking77"]["total"], rows["embeddings-banking77"]["total_max"]) == ("10.0", "10.0")


def test_feedback_follows_a_report_rewritten_by_grade_json(tmp_path, labels):
    """Regrading one learner with ``grade FILE --json`` rewrites the report, not the class run's .md beside it: the
    feedback is made from the report."""
    work = tmp_path / "work"
    graded = work / "graded" / "orientation"
    graded.mkdir(parents=True)
    sub = write_json(tmp_path / "carol.json", submission(labels, 444, stage="orientation"))
    assert cli("grade", sub, "--stage", "orientation", "--json", graded / "carol.json").returncode == 0
    (graded / "carol.md").write_text("# carol: stage orientation\n\nstage orientation: NOT PASSED (the old run)\n")
    assert cli("feedback", "--work", work).returncode == 0
    text = (work / "feedback" / "carol" / "orientation.md").read_text()
    assert "stage orientation: PASSED" in text and "the old run" not in text


def test_a_board_with_nothing_to_rank_is_not_written_over_a_published_one(tmp_path):
    res = tmp_path / "res"
    _report(res, "dagny", "reproduce", None, learner="dagny", exit_code=2, passed=False, score=0.0)
    board = tmp_path / "leaderboard.md"
    board.write_text("# the published board\n")
    proc = cli("leaderboard", res, "--out", board)
    assert proc.returncode == 2 and board.read_text() == "# the published board\n", proc.stdout + proc.stderr
    assert cli("leaderboard", res).returncode == 0   # printed, nothing overwritten: an empty table is fine


def test_a_hidden_cases_inputs_reach_the_instructors_report_and_never_the_learners_feedback(tmp_path, labels):
    """A failed hidden case's detail (its inputs, what came back) is recorded apart from the learner's message:
    ``report()`` never prints it, the grading folder's <learner>.md lists it, the learner's feedback does not."""
    from autograder.batch import feedback_markdown
    from autograder.checks import CheckResult

    r = CheckResult("demo", 3)
    r.add("visible case", True, 1, "never shown", detail="ok parts keep no detail")
    r.add("hidden case: a secret input", False, 2, "wrong on hidden inputs", detail="n=7, got [1, 2], expected [2, 1]")
    assert r.details == [("hidden case: a secret input", "n=7, got [1, 2], expected [2, 1]")]
    assert "n=7" not in r.report() and "wrong on hidden inputs" in r.report()

    work = tmp_path / "work"
    graded = work / "graded" / "orientation"
    graded.mkdir(parents=True)
    sub = write_json(tmp_path / "dana.json", submission(labels, 444, stage="orientation"))
    assert cli("grade", sub, "--stage", "orientation", "--json", graded / "dana.json").returncode == 0
    report = json.loads((graded / "dana.json").read_text())
    report["exercises"] = [{"grade_id": "test_label_balance", "score": 8.0, "max_score": 10.0,
                            "message": "hidden case: a secret input: wrong on hidden inputs",
                            "instructor_detail": "hidden case: a secret input: n=7, got [1, 2], expected [2, 1]"}]
    (graded / "dana.json").write_text(json.dumps(report))
    mine = feedback_markdown(report, instructor=True)
    assert "Hidden cases that failed (instructor only" in mine and "n=7, got \\[1, 2\\]" in mine
    assert "n=7" not in feedback_markdown(report)
    assert cli("feedback", "--work", work).returncode == 0
    theirs = (work / "feedback" / "dana" / "orientation.md").read_text()
    assert "wrong on hidden inputs" in theirs and "n=7" not in theirs and "instructor only" not in theirs
