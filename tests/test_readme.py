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
        record = json.loads((REPO / re.search(r"`(results/[^`]+)`", row).group(1)).read_text())
        values = {round(v, 2) for v in record["metrics"].values()} | {round(v, 1) for v in record["metrics"].values()}
        quoted = [float(x) for x in re.findall(r"(\d+\.\d+)(?:%|×| )", row.split("|")[2])]
        assert quoted, row
        for q in quoted:
            assert q in values, f"README quotes {q} but the record has no such metric: {row}"
