"""Every percentage-like number a chapter quotes has a record behind it (issue 11, "every sentence true").

A chapter (book/*.md, the learner-facing prose; the README has its own test in tests/test_readme.py) may only
quote a decimal number, or a number followed by "%", that some record in results/ (results/*.json and
results/grades/*.json, any numeric leaf: metrics, details, grades) holds -- as shown, rounded to the decimals
shown, or as a fraction shown in percent. Literature and published numbers that no run of ours produces, and a
few exact arithmetic facts, are on a short allow-list with their source. A number with no record fails the
test: fix the sentence or record the number.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Published or literature numbers (no run here produces them), and exact arithmetic about the data sets.
ALLOWED = {
    91.3: "the seed challenge's DistilBERT SST-2 accuracy (distilbert-base-uncased-finetuned-sst-2-english)",
    91.06: "DistilBERT's SST-2 validation accuracy in its model card",
    93.0: "published SST-2 accuracy of larger encoders quoted as context",
    92.6: "published SST-2 accuracy quoted as context",
    92.0: "issue 11's goal for the MPNet teacher",
    90.37: "issue 11's reference point: one full epoch of all-MiniLM-L6-v2 (batch 32) on this machine, measured by the maintainers",
    81.86: "all-mpnet-base-v2 on MTEB Banking77Classification, accuracy (MTEB leaderboard / model card)",
    81.28: "all-mpnet-base-v2 on MTEB Banking77Classification, macro-F1 (MTEB leaderboard)",
    80.04: "all-MiniLM-L6-v2 on MTEB Banking77Classification, accuracy (MTEB leaderboard / model card)",
    1.3: "Banking77 test: 40 sentences in each of 77 classes, so the majority baseline is 40/3,080 = 1.30%",
    92.7: "BERT-base on SST-2 as reported in the DistilBERT paper (Sanh et al. 2019, Table 1)",
    1.96: "the standard normal quantile of a 95% interval",
    3.11: "the Python version the course needs (3.11+), not a measurement",
    0.115: "one SST-2 validation sentence in points: 100 / 872",
    3.1: "Python 3.10+ in the install instructions: a version number, not a result",
    0.2: "one sentence of a 500-phrase held-out slice in points: 100 / 500",
    0.05: "one sentence of a 2,000-phrase held-out slice in points: 100 / 2000",
    71.6: "Level 1 exercise (b)'s full-marks line: the check's baseline 70.6 plus one point (autograder/checks/zeroshot.py)",
    0.5: "a probability of one half (McNemar's fair coin, a 0.5 threshold)",
    1.0: "a probability of one",
    98.5: "the grader's flag_above on SST-2 (autograder/stages.py): above the best published accuracies",
    97.0: "the grader's flag_above on Banking77 (autograder/stages.py)",
    100.0: "all of them",
    0.0: "none of them",
}

# "85.44", "85.44%", "−4.13", "90%" -- not version numbers (2.13.0), not parts of file names or commits.
NUMBER = re.compile(r"(?<![\w.\-/])[−-]?(\d{1,3}(?:\.\d+)?(?:e[-+]?\d+)?)(%?)(?![\w.]*\.(?:json|md|ipynb|py)\b)(?![\d.]*\d)")


def _leaves(obj):
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield float(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list) and len(obj) < 5000:   # prediction vectors are not quotable numbers
        for v in obj:
            yield from _leaves(v)


def recorded_values() -> list[float]:
    values = []
    for path in sorted((REPO / "results").rglob("*.json")) + sorted((REPO / "benchmarks").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        record.pop("predictions", None)
        values.extend(_leaves(record))
    return values


def quoted_numbers(text: str):
    """(number as written, value, decimals) for every percentage-like number: a decimal, or a number with %."""
    text = re.sub(r"`[^`]*`", " ", text)                 # code: paths, commands, parameters
    text = re.sub(r"CC[ -]BY[\w-]* \d\.\d", " ", text)      # licence versions
    text = re.sub(r"\d+(?:\.\d+)? ?(?:h|hours?|min|minutes|GiB|GB|MB)\b", " ", text)   # durations and sizes
    text = re.sub(r"\]\([^)]*\)", "]", text)             # link targets
    text = re.sub(r"\b[0-9a-f]{7,40}\b", " ", text)       # commit hashes
    for m in NUMBER.finditer(text):
        digits, percent = m.group(1), m.group(2)
        if "." not in digits and not percent:
            continue
        mantissa, _, exponent = digits.partition("e")       # 1.215e-05: four decimals of the mantissa, then 1e-05
        decimals = (len(mantissa.split(".")[1]) if "." in mantissa else 0) - int(exponent or 0)
        yield m.group(0), float(digits), decimals


def has_record(value: float, decimals: int, values: list[float]) -> bool:
    if value in ALLOWED:
        return True
    tol = 0.5 * 10 ** -decimals + 1e-9
    return any(abs(abs(v) - value) <= tol or abs(100 * abs(v) - value) <= tol for v in values)


# The instructor guide's worked example shows transcripts of demo runs on fixture submissions (timings and scores
# of a demo, not results); every other chapter is checked.
EXCLUDED = {"instructor-guide.md"}
CHAPTERS = sorted(p for p in (REPO / "book").glob("*.md") if p.name not in EXCLUDED)
NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def values():
    v = recorded_values()
    assert v, "no records in results/"
    return v


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_quoted_number_has_a_record(chapter, values):
    missing = [(raw, line_no + 1) for line_no, line in enumerate(chapter.read_text(encoding="utf-8").splitlines())
               for raw, value, decimals in quoted_numbers(line) if not has_record(value, decimals, values)]
    assert not missing, (f"{chapter.name} quotes numbers that no record in results/ holds (line numbers): {missing}; "
                         "quote the recorded value, or add a literature number to ALLOWED with its source")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: getattr(p, "parent", Path("?")).name)
def test_every_number_in_a_notebooks_markdown_has_a_record(notebook, values):
    """The markdown cells of the solution notebooks are the markdown of the executed notebooks the book renders."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    missing = [(raw, cell.metadata.get("nbgrader", {}).get("grade_id", i))
               for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
               for line in cell.source.splitlines() for raw, value, decimals in quoted_numbers(line)
               if not has_record(value, decimals, values)]
    assert not missing, f"{notebook.name}: markdown quotes numbers with no record (cell ids): {missing}"


def test_the_test_can_fail(values):
    """An invented number is caught; a recorded one, and a recorded fraction shown in percent, pass."""
    invented = "The student reaches 96.71% on validation, 97.3% in one epoch."
    assert [has_record(v, d, values) for _, v, d in quoted_numbers(invented)] == [False, False]
    level4 = json.loads((REPO / "results/finetune-offline-full.json").read_text())["metrics"]["sst2_validation_accuracy"]
    real = f"Level 4 reached {level4:.2f}% (record)."
    assert all(has_record(v, d, values) for _, v, d in quoted_numbers(real))
    # a p-value in scientific notation is read whole (1.215e-05 is not "1.215")
    p = json.loads((REPO / "results/improve-offline-full.json").read_text())["metrics"]["best_mcnemar_p"]
    assert [has_record(v, d, values) for _, v, d in quoted_numbers(f"p = {p:.3e}, and p = 3.21e-05")] == [True, False]


def test_the_extractor_skips_code_paths_versions_and_commits():
    text = "see `results/x.json`, torch 2.13.0, commit e5546a6c1a6c, [a](b/1.5.md), lr 1e-4, 872 sentences"
    assert list(quoted_numbers(text)) == []
