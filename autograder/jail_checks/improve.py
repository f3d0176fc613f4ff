"""The jail's stub of ``autograder.checks.improve`` (see ``autograder/jail_checks/__init__.py``)."""
from autograder.jail_checks import _check_named as __getattr__  # noqa: F401 -- every check_* does nothing
