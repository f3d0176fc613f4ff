"""What ``autograder.checks`` is inside the grading jail (mounted over it there): the names the notebooks' test
cells import -- ``grade`` and one module per level (``from autograder.checks import grade, finetune as checks``,
``from autograder.checks.finetune import check_...``, ``import autograder.checks.finetune``), whose every
``check_*`` does nothing -- and none of the checks' reference answers, which a learner's notebook could otherwise
import and return as its own. The grader runs the real checks in its own process (:mod:`autograder.trusted`),
calling the learner's functions through the jail."""
from __future__ import annotations

JAIL_STUB = True   # how a test (or a curious learner) tells this package from the real one


def grade(result=None, *args, **kwargs):
    """In the jail the scores come from the grader's process, not from this call."""
    return result


def _check_named(name: str):
    """A level module's ``__getattr__``: every ``check_*`` is a function that does nothing."""
    if name.startswith("check_"):
        return lambda *args, **kwargs: None
    raise AttributeError(f"{name}: the checks' own code is not available while grading")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"autograder.checks.{name}: the checks' own code is not available while grading")
