"""Helpers the level checks share: read a learner's return value as plain data without ever raising.

In the trusted grader a learner function is a proxy whose return value was serialised in the jail (a tuple
arrives as a list, an ndarray as an ndarray or a list), so every reader here compares by value and answers
``None`` for anything it cannot read, whatever came back (None, NaN, a string, a ragged list, an object whose
``__float__`` raises).
"""
from __future__ import annotations

import functools
import inspect
import math
import traceback

import numpy as np


_NUMPY_SCALARS = frozenset(np.sctypeDict.values())


def plain(x, depth: int = 0) -> bool:
    """Is ``x`` plain data -- None, bool, int, float, str, bytes, a numpy scalar or non-object ndarray, or lists,
    tuples and dicts of those, exactly these types (a subclass may override ``__eq__``) -- nested at most 20 deep?"""
    kind = type(x)
    if x is None or kind in (bool, int, float, str, bytes) or kind in _NUMPY_SCALARS:
        return True
    if kind is np.ndarray:
        return x.dtype != object
    if depth >= 20:
        return False
    if kind in (list, tuple):
        return all(plain(v, depth + 1) for v in x)
    if kind is dict:
        return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in x.items())
    return False


def same(a, b) -> bool:
    """``a == b`` as one plain truth value, never raising, for plain data only (:func:`plain`): an object of the
    learner's own class (whose ``__eq__`` could answer True to anything), an ndarray (elementwise ``==``), an
    object whose ``__eq__`` raises or answers something that is not a bool compares unequal."""
    try:
        if not (plain(a) and plain(b)) or isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return False
        eq = a == b
        return bool(eq) if isinstance(eq, (bool, np.bool_)) else False
    except Exception:  # noqa: BLE001
        return False


def as_array(out, dtype=float, shape=None):
    """``out`` as an ndarray of ``dtype`` (and of ``shape`` if given), or None."""
    if out is None or isinstance(out, (str, bytes, dict)):
        return None
    try:
        arr = np.asarray(out, dtype=dtype)
    except Exception:  # noqa: BLE001 -- any unreadable value is simply "not an array"
        return None
    if arr.dtype == object or (shape is not None and arr.shape != tuple(shape)):
        return None
    return arr


def as_int_array(out, shape=None):
    """A 1-d (or ``shape``) integer array from ints / whole floats, or None (bools and fractions are refused)."""
    arr = as_array(out, float, shape)
    if arr is None or (shape is None and arr.ndim != 1) or not np.all(np.isfinite(arr)) or (
            arr.size and np.abs(arr).max() > 2**53):
        return None
    if not np.all(arr == np.round(arr)):
        return None
    return arr.astype(np.int64)


def as_float(x):
    """A finite-or-nan Python float, or None (bools, strings and containers are refused)."""
    if isinstance(x, (bool, np.bool_, str, bytes)) or x is None:
        return None
    try:
        arr = np.asarray(x, dtype=float)
        return float(arr) if arr.shape == () else None
    except Exception:  # noqa: BLE001
        return None


def as_int(x):
    """An int from an int (or a numpy integer), or None; a float 5.0 is *not* an int here."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    return None


def unpack(out, n):
    """A list/tuple of exactly ``n`` items as a list, or None."""
    if isinstance(out, (list, tuple)) and len(out) == n:
        return list(out)
    if isinstance(out, np.ndarray) and out.ndim >= 1 and len(out) == n:
        return list(out)
    return None


def close(a, b, tol=1e-6) -> bool:
    """Two floats equal within ``tol`` (nan == nan); False when either is None."""
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol


def short(out, limit=120) -> str:
    """A bounded repr for messages (a learner's value can be huge or have a hostile __repr__)."""
    try:
        text = repr(out)
    except Exception:  # noqa: BLE001
        text = f"<{type(out).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def harness_dict(out, *keys):
    """A harness's dict result with ``keys`` present, or None."""
    if isinstance(out, dict) and all(k in out for k in keys):
        return out
    return None


def scored(name: str, max_score: float = 10):
    """Decorator for a check ``body(r, *args)`` that fills the :class:`CheckResult` ``r``: the wrapped check
    returns ``r`` and never raises -- should the check's own reading of an answer still fail, the points not
    yet awarded are lost with the error as message. Points awarded add up to ``max_score`` by construction
    of each body; the wrapper also pads a missing remainder so a check that stopped early stays out of 10."""

    def deco(body):
        @functools.wraps(body)
        def check(*args, **kwargs):
            from autograder.checks import CheckResult

            r = CheckResult(name, max_score)
            try:
                body(r, *args, **kwargs)
            except (Exception, SystemExit) as exc:  # noqa: BLE001
                from autograder.checks import SecretError

                if isinstance(exc, SecretError):   # a secret file that cannot be read stops grading, as elsewhere
                    raise
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                left = r.max_score - sum(p[2] for p in r.parts)
                if left > 1e-9:
                    r.parts.append(("the rest of the check could not read your answer", 0.0, round(left, 4),
                                    f"{tb[:200]} -- return the types the exercise asks for"))
            return r

        sig = inspect.signature(body)
        check.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # without ``r``
        del check.__wrapped__
        return check

    return deco


# ------------------------------------------------------------------------------ instructor-only details
# Shared by the level checks. A *detail* names the first hidden case that failed --
# its inputs, what came back, what was expected -- for the instructor's report only (CheckResult.details); the
# learner's report never shows it. Building one never raises, whatever the learner's function returned.
DETAIL_LIMIT = 400


def brief(value, items: int = 10, depth: int = 0) -> str:
    """``value`` as short plain text: numpy arrays and scalars as Python lists and numbers, floats to 4 decimals
    (4 significant digits below 0.01),
    lists, tuples and dicts cut after ``items`` entries (with their length), strings after 60 characters,
    anything else as a bounded repr (its type name when the repr raises)."""
    try:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int)):
            return repr(value) if type(value) in (bool, int, type(None)) else short(value, 40)
        if type(value) is float:
            if not math.isfinite(value) or value == 0:
                return repr(value)
            return repr(round(value, 4)) if abs(value) >= 0.01 else f"{value:.4g}"   # 2e-05 stays 2e-05
        if type(value) is str:
            return repr(value if len(value) <= 60 else value[:60] + "...")
        if isinstance(value, np.ndarray) or type(value) in (list, tuple, dict):
            n = len(value)
            if depth >= 3:
                return f"[... {n} items]"
            if type(value) is dict:
                body = [f"{brief(k, items, depth + 1)}: {brief(v, items, depth + 1)}"
                        for k, v in list(value.items())[:items]]
                opening, closing = "{", "}"
            else:
                body = [brief(v, items, depth + 1) for v in value[:items]]
                opening, closing = ("(", ")") if type(value) is tuple else ("[", "]")
            if n > items:
                body.append(f"... ({n} in all)")
            return opening + ", ".join(body) + ("," if n == 1 and opening == "(" else "") + closing
        return short(value, 60)
    except Exception:  # noqa: BLE001 -- never raise on a learner's value
        return f"<{type(value).__name__}>"


def hidden_detail(build) -> str:
    """The one-line detail ``build()`` returns, cut to :data:`DETAIL_LIMIT` characters; a stand-in text when
    building it fails (a detail never costs the check its run)."""
    try:
        text = " ".join(str(build()).splitlines())   # one line; runs of spaces kept (they can be the bug)
    except Exception as exc:  # noqa: BLE001
        text = f"(could not describe the hidden case: {type(exc).__name__})"
    return text if len(text) <= DETAIL_LIMIT else text[:DETAIL_LIMIT - 3] + "..."


def note_raised(r, description: str, describe) -> None:
    """A hidden case on which the learner's function raised (``safe_call`` has recorded the failed part): its
    detail for the instructor, ``describe()`` made into one by :func:`hidden_detail` (so the inputs of a hidden case
    are described only when it fails; a falsy ``describe``: not a hidden case, no detail)."""
    if describe:
        r.details.append((description, hidden_detail(describe)))
