"""Harnesses: self-contained functions that build the objects an exercise needs, call the learner's function
and return plain data (see :func:`autograder.checks.run_in_harness`).

Rules, because the grader ships a harness's source into the jailed worker: module-level functions
``harness_name(fn, **plain_kwargs) -> plain data``; imports inside the function (numpy, torch, transformers,
textclass), never ``autograder``; no closures over module globals other than imports done in the function.
"""
from __future__ import annotations
