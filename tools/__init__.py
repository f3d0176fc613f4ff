"""Course tooling that learners never install: ``python -m tools <verb>`` (see :mod:`tools.__main__`).

Option defaults that several verbs share are defined here, once.
"""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = REPO_ROOT / "_build" / "runs"  # where ``./course run`` writes (ignored by git)
DEFAULT_SIZE = "small"  # what ``./course run`` runs without --size: a newcomer finishes it in one sitting


class UsageError(Exception):
    """Bad input to a verb: the message says what to do; the CLI prints it and exits 2."""
