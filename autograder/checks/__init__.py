"""Checks that the notebooks' (hidden) tests call.

Each check takes the learner's function (or value), runs it on cases the learner never sees, and returns
a :class:`CheckResult` with numeric partial credit. In a notebook's autograded cell the last line is
``checks.<level>.check_x(fn).score`` so nbgrader records the number as partial credit; the same
functions are what ``python -m autograder`` and the tests call, so both paths give the same score.
"""
from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass, field

import numpy as np


def _points(value: float) -> str:
    """Points as a reader writes them: 10, 1.5, 1.67 (a third of 5 is not 1.66667)."""
    return f"{round(value, 2):g}"


@dataclass
class CheckResult:
    name: str
    max_score: float
    parts: list = field(default_factory=list)  # (description, points earned, points possible, message)
    # (description, detail) of failed parts whose inputs the learner must not see: the hidden case itself, for the
    # instructor's report only (never printed by report(), never in a learner's feedback)
    details: list = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(p[1] for p in self.parts), 4)

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9

    def add(self, description: str, ok: bool, points: float, message: str = "", *, detail: str = "") -> bool:
        """Record a part. ``detail``: for a hidden case, what the instructor needs to see it again (its inputs,
        what came back), kept out of ``report()`` and out of the learner's feedback."""
        try:  # a comparison that produced an array (or anything without one truth value) is a failed part
            ok = bool(ok)
        except Exception:  # noqa: BLE001
            ok = False
        self.parts.append((description, points if ok else 0.0, points, "" if ok else message))
        if not ok and detail:
            self.details.append((description, str(detail)))
        return ok

    def report(self) -> str:
        lines = [f"{self.name}: {_points(self.score)}/{_points(self.max_score)}"]
        for desc, got, possible, msg in self.parts:
            mark = "ok  " if got >= possible else "FAIL"
            lines.append(f"  [{mark}] {desc} ({_points(got)}/{_points(possible)})" + (f" -- {msg}" if msg else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:  # shown when a notebook cell ends with the result
        return self.report()


def plain_values(value):
    """``value`` with every torch tensor and pandas object in it (in lists, tuples and dict values too) replaced by
    its values (:func:`autograder.rpc.array_values`). What a learner's function returns in a
    notebook is read so, as ``autograder.rpc`` sends it from the sandbox: a check scores a tensor (with or without
    a gradient) as it scores the same numbers in an array, on both grading paths."""
    from autograder.rpc import array_values

    if type(value).__module__.split(".")[0] in ("torch", "pandas"):
        return array_values(value)
    if isinstance(value, str) and type(value) is not str:  # a str subclass's own == could answer True to anything
        return str.__getitem__(value, slice(None))  # its characters as a plain str, whatever it overrides
    if isinstance(value, (list, tuple)):
        return type(value)(plain_values(v) for v in value) if type(value) in (list, tuple) else value
    if isinstance(value, dict) and type(value) is dict:
        return {k: plain_values(v) for k, v in value.items()}
    return value


def own_copy(value):
    """``value`` with its numpy arrays, lists, tuples and dicts copied (anything else shared): what a learner's
    function gets, so that one that changes its arguments in place cannot change the check's own data -- as
    through the grader's proxy, where every argument arrives as a fresh copy."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(own_copy(v) for v in value)
    if type(value) is dict:
        return {k: own_copy(v) for k, v in value.items()}
    return value


def safe_call(result: CheckResult, description: str, points: float, fn, *args, **kwargs):
    """Call the learner's ``fn`` on :func:`own_copy` of the arguments; an exception (NotImplementedError included)
    costs the part's points. What it returns is read with :func:`plain_values` (a torch tensor as its values)."""
    try:
        return True, plain_values(fn(*own_copy(args), **own_copy(kwargs)))
    except NotImplementedError:
        result.add(description, False, points, "not implemented yet (remove `raise NotImplementedError()`)")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 -- any learner error is a lost part, with its message
        # (SystemExit too: a function that calls exit() loses the part, it does not end the check)
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result.add(description, False, points, f"raised {tb}")
    return False, None


def grade(result: CheckResult, *, show: bool = True) -> float:
    """Print the report and return the score (the number nbgrader takes as partial credit)."""
    if show:
        print(result.report())
    return result.score


# ----------------------------------------------------------------------------------- instructor secret
class SecretError(RuntimeError):
    """``AUTOGRADER_SECRET_FILE`` names a file that cannot be read or is empty: grading stops rather than fall
    back to the public seed without a word."""


def instructor_secret() -> str:
    """The instructor's secret: ``AUTOGRADER_SECRET`` (any string), else the contents of the file named by
    ``AUTOGRADER_SECRET_FILE``; ``""`` when neither is set. A file that is named but missing, unreadable or empty
    is a :class:`SecretError` whose message says what to do (a typo must not quietly grade with public cases)."""
    import os

    secret = os.environ.get("AUTOGRADER_SECRET", "")
    path = os.environ.get("AUTOGRADER_SECRET_FILE", "")
    if secret and path:   # a leftover variable must not quietly outvote the file a rotation wrote
        raise SecretError("both AUTOGRADER_SECRET and AUTOGRADER_SECRET_FILE are set: unset one (after a rotation, "
                          "unset AUTOGRADER_SECRET so that the new file is used)")
    if secret or not path:
        return secret
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"AUTOGRADER_SECRET_FILE={path} cannot be read ({exc.__class__.__name__}): create it "
                          "(mkdir -p ~/.config/textclass && openssl rand -hex 32 > ~/.config/textclass/secret) "
                          "or unset the variable to grade with the public cases") from None
    if not secret:
        raise SecretError(f"AUTOGRADER_SECRET_FILE={path} is empty: write a secret into it "
                          "(openssl rand -hex 32 > FILE) or unset the variable to grade with the public cases")
    return secret


def secret_label() -> str:
    """Which secret drew the hidden cases, for reports: a short fingerprint of the instructor's (never the secret
    itself), or a warning that the public default was used. Raises :class:`SecretError` like
    :func:`instructor_secret`."""
    secret = instructor_secret()
    if not secret:
        return "PUBLIC DEFAULT (no AUTOGRADER_SECRET or AUTOGRADER_SECRET_FILE: anyone can know these cases)"
    return f"instructor secret (fingerprint {_fingerprint(secret)})"


SHORT_SECRET = 16  # characters: below it a secret is guessable from its fingerprint (openssl rand -hex 32 gives 64)


def _fingerprint(secret: str) -> str:
    """12 hex digits that tell secrets apart in reports: a slow hash (PBKDF2, 200,000 rounds, a few hundredths of a
    second; the salt is public), so that each guess of the secret from a learner's report costs that much; a fast
    hash let a review recover a short secret from a word list at once. The hidden cases are drawn through the
    same kind of slow hash. A short or dictionary secret stays guessable: use a random one."""
    return _stretched(secret, b"textclass-autograder-fingerprint")[:12]


@functools.lru_cache(maxsize=8)
def _stretched(secret: str, purpose: bytes) -> str:
    import hashlib

    return hashlib.pbkdf2_hmac("sha256", secret.encode(), purpose, 200_000).hex()


def secret_rng(check_name: str):
    """A numpy Generator for a check's *extra* hidden cases, seeded from the instructor's secret.

    The secret comes from ``AUTOGRADER_SECRET`` (any string) or the file named by ``AUTOGRADER_SECRET_FILE``;
    it is never in the repository. Without one, a fixed public seed is used (so CI is deterministic), and a
    hard-coded answer to the public cases still fails once an instructor sets their own secret. A secret file that
    is named but unreadable or empty raises :class:`SecretError`.
    """
    import hashlib

    import numpy as np

    secret = instructor_secret()
    # an instructor's secret goes through the slow hash first, once per process: a learner who reads hidden inputs
    # back (in an exception text the report prints) pays as much per guessed secret as with the fingerprint
    key = _stretched(secret, b"textclass-autograder-hidden-cases") if secret else "public-default"
    digest = hashlib.sha256(f"{key}::{check_name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# ------------------------------------------------------------------------------------------ harnesses
def run_in_harness(fn, harness, **kwargs):
    """Run ``harness(fn, **kwargs)`` where ``fn`` lives.

    For exercises whose functions take objects that cannot travel as plain data (a torch model, an optimizer,
    a tokenizer), a *harness* -- a module-level function in ``autograder/harnesses/<level>.py``, self-contained (it
    imports numpy/torch/transformers/textclass, never ``autograder``), taking only plain keyword arguments --
    builds those objects, calls the learner's ``fn`` and returns plain data (numbers, lists, dicts, numpy arrays).
    In a notebook ``fn`` is the learner's function and the harness runs right here. In the trusted grader ``fn``
    is a proxy to a function in the jailed worker: the proxy's ``run_harness`` ships the harness there and only
    its plain-data result comes back, so the check itself never runs beside learner code.
    """
    remote = getattr(fn, "run_harness", None)
    if remote is not None:
        return remote(harness, **kwargs)
    return harness(fn, **kwargs)
