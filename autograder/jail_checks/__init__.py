"""What ``autograder.checks`` is inside the grading jail (mounted over it there): the names the notebooks' test
cells import -- ``grade`` and one module per level, whose every ``check_*`` does nothing -- and none of the checks'
reference answers, which a learner's notebook could otherwise import and return as its own. The grader runs the
real checks in its own process (:mod:`autograder.trusted`), calling the learner's functions through the jail."""
from __future__ import annotations

import types

JAIL_STUB = True   # how a test (or a curious learner) tells this package from the real one


def grade(result=None):
    """In the jail the scores come from the grader's process, not from this call."""
    return result


class _Level(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.startswith("check_"):
            return lambda *args, **kwargs: None
        raise AttributeError(f"{self.__name__}.{name}: the checks' own code is not available while grading")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in ("orientation", "zeroshot", "reproduce", "embeddings", "finetune", "improve", "beyond"):
        module = _Level(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"autograder.checks.{name}: the checks' own code is not available while grading")
