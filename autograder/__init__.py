"""The curriculum's autograder: recomputes every submitted number, never trusts a claim, and never runs a check
beside the learner's code.

* ``python -m autograder <verb>`` -- grade, collect, feedback, export, leaderboard, rescore (``__main__``)
* :mod:`autograder.stages` -- the stages (dataset, split, metric, target, tolerance, points), in one place
* :mod:`autograder.scoring` -- gold labels and keys, scores, verdicts; :mod:`autograder.trusted` -- the grader
* :mod:`autograder.notebook` -- graded cells and the checks they name; :mod:`autograder.sandbox` -- the jail;
  :mod:`autograder.worker` -- its inside; :mod:`autograder.rpc` -- plain-data proxies between the two
* :mod:`autograder.checks` -- the checks that notebooks' hidden tests call, with numeric partial credit
"""


def first_paragraph(doc: str) -> str:
    """A module docstring's first paragraph on one line: the ``--help`` description of a command-line verb."""
    return " ".join(doc.split("\n\n")[0].split())
