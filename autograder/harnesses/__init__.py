"""Harnesses: self-contained functions that build the objects an exercise needs, call the learner's function
and return plain data (see :func:`autograder.checks.run_in_harness`). One module per level
(``autograder/harnesses/<level>.py``).

Rules, because the trusted grader ships a harness's *source* (``inspect.getsource``) into the jailed worker and
runs it there with the learner's real function: module-level functions ``name(fn, **plain_kwargs) -> plain data``
(numbers, strings, lists, dicts with str keys, numpy arrays); every import inside the function body (numpy, torch,
transformers, textclass), never ``autograder``; no use of module globals; deterministic given its kwargs (seed
everything it builds). The grader compares what comes back with the reference, which it computes by running the
same harness on the reference implementation in its own process.
"""
