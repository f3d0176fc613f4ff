"""Numbers quoted in the README's "Measured" table are the recorded ones (results/*.json)."""
from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_readme_has_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert "./course run" in text and "./course test" in text
    assert "./course test" in (REPO / ".ci" / "run").read_text()


def test_readme_numbers_come_from_records():
    text = (REPO / "README.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and re.search(r"`results/[^`]+\.json`", line)]
    assert rows
    for row in rows:
        record = json.loads((REPO / re.search(r"`(results/[^`]+\.json)`", row).group(1)).read_text())  # the row's record
        metrics = record.get("metrics") or {"accuracy": record["accuracy"]}   # a result record, or a grade report
        values = {round(v, 2) for v in metrics.values()} | {round(v, 1) for v in metrics.values()}
        quoted = [float(x) for x in re.findall(r"(\d+\.\d+)(?:%|×| )", row.split("|")[2])]
        assert quoted, row
        for q in quoted:
            assert q in values, f"README quotes {q} but the record has no such metric: {row}"


def test_readme_times_come_from_records():
    """The README's "How long" sentence quotes each level's recorded time as `./course levels` prints it."""
    from tools.curriculum import levels
    from tools.run import _fmt_seconds

    text = " ".join((REPO / "README.md").read_text().split())
    for lv in levels():
        seconds, record = lv.recorded_seconds("full")
        assert record, lv.id
        assert f"{lv.id} {_fmt_seconds(seconds)}" in text, f"README should say '{lv.id} {_fmt_seconds(seconds)}'"


def test_readme_documents_every_verb():
    text = (REPO / "README.md").read_text()
    for verb in ("run", "test", "book", "levels", "regenerate", "benchmark", "publish", "release", "grade",
                 "collect", "feedback", "export", "leaderboard", "rescore", "setup"):
        assert f"./course {verb}" in text or f"\\|{verb}" in text, verb
