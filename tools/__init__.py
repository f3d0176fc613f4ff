"""Course tooling that learners never install: ``python -m tools <verb>`` (see :mod:`tools.__main__`).

Option defaults that several verbs share are defined here, once.
"""
from textclass.config import REPO_ROOT  # the one definition (the data-dir default lives beside it)

RUN_DIR = REPO_ROOT / "_build" / "runs"  # where ``./course run`` writes (ignored by git)
DEFAULT_SIZE = "small"  # what ``./course run`` runs without --size: a newcomer finishes it in one sitting


class UsageError(Exception):
    """Bad input to a verb: the message says what to do; the CLI prints it and exits 2."""
