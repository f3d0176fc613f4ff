"""Harnesses for the Beyond SST-2 level (rules in autograder/harnesses/__init__.py).

``call_watching_rngs`` is the same harness Level 3 uses (the grader ships its source, so where it is defined does
not matter to the jail)."""
from autograder.harnesses.embeddings import call_watching_rngs  # noqa: F401
