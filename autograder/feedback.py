"""``python -m autograder feedback [--work WORK]``: ``WORK/feedback/<learner>/<stage>.md`` for every graded
learner and stage, rebuilt from scratch; lines quoting a hidden test or a test marker are withheld."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from autograder import first_paragraph
from autograder.batch import feedback_markdown, load_results
from autograder.workdir import DEFAULT_WORK, add_work_option, graded_dir, graded_stages
from textclass.submission import atomic_write_text

# Never shown to a learner: test markers and the name prefix of every hidden check.
LEAK_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION", "check_")


def _hidden_lines() -> set[str]:
    """Every line of every hidden test in solutions/ (what feedback must never quote)."""
    import nbformat

    from autograder.notebook import level_ids, solution_path

    found = set()
    for level in level_ids():
        if solution_path(level).exists():
            for cell in nbformat.read(solution_path(level), as_version=4).cells:
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
            # always from the report itself: a <learner>.md beside it may be older (a report rewritten by
            # ``grade FILE --json``, which writes no .md)
            text = feedback_markdown(report)
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




def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder feedback", description=first_paragraph(__doc__))
    add_work_option(parser)
    args = parser.parse_args(argv)
    try:
        r = feedback(args.work)
    except (ValueError, OSError) as exc:
        print(f"autograder feedback: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {r['files']} feedback file(s) for {r['learners']} learner(s) under {r['feedback']}/"
          f" ({r['lines_withheld']} line(s) withheld)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
