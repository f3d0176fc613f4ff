"""Proxies: the trusted grader calls a learner's function that lives in the jailed kernel, through plain data.

Arguments and return values travel as JSON; numpy arrays as ``.npy`` bytes (base64 inside the JSON, read with
``allow_pickle=False``). Never pickle. A tuple arrives as a list; dict keys must be strings. Anything that cannot
be encoded, anything that does not come back, comes back too large or unparsable, is an exception raised by the
call (so a check's ``safe_call`` scores it as a failed part).

The kernel side (:func:`_kernel_call`) and the codec (:func:`_codec`) are self-contained functions whose *source*
is shipped into the jail: nothing the jail sends back is ever imported, unpickled or executed here.
"""
from __future__ import annotations

import inspect
import json

MAX_REPLY_BYTES = 32 * 2**20


def array_values(value):
    """The values of a torch tensor (detached, on the CPU; bfloat16 as float32) or of a pandas Series or DataFrame:
    a numpy array, or a number for a 0-d tensor; anything else as it is. Self-contained: its source is shipped into
    the kernel with the codec's."""
    package = type(value).__module__.split(".")[0]
    if package == "pandas" and hasattr(value, "to_numpy"):
        return value.to_numpy()
    if package != "torch" or not hasattr(value, "detach"):
        return value
    values = value.detach().cpu()
    try:
        array = values.numpy()
    except (TypeError, RuntimeError):  # bfloat16 and friends have no numpy twin
        array = values.float().numpy()
    return array.item() if array.ndim == 0 else array


def _codec():
    """``(encode, decode)``: plain data <-> JSON text (self-contained: its source also runs in the kernel)."""
    import base64
    import io
    import json
    import math

    import numpy as np

    def to_plain(value):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.generic):
            return to_plain(value.item())
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                return [to_plain(v) for v in value.tolist()]
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
            return {"__npy__": base64.b64encode(buf.getvalue()).decode("ascii")}
        if isinstance(value, (list, tuple)):
            return [to_plain(v) for v in value]
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError("a dict that crosses the sandbox must have str keys")
            if set(value) & {"__npy__", "__float__", "__dict__"}:
                return {"__dict__": {k: to_plain(v) for k, v in value.items()}}
            return {k: to_plain(v) for k, v in value.items()}
        # a tensor, a Series or a DataFrame travels as its values, as the checks see it in a notebook
        # (autograder.checks.plain_values): the two grading paths score it alike
        values = array_values(value)  # noqa: F821 -- shipped beside this source
        if values is not value:
            return to_plain(values)
        raise TypeError(f"{type(value).__name__} cannot cross the sandbox (plain data only: numbers, str, "
                        "lists, dicts with str keys, numpy arrays)")

    def from_plain(value):
        if isinstance(value, list):
            return [from_plain(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"__npy__"}:
                return np.load(io.BytesIO(base64.b64decode(value["__npy__"])), allow_pickle=False)
            if set(value) == {"__float__"}:
                return float(value["__float__"])
            if set(value) == {"__dict__"}:
                return {k: from_plain(v) for k, v in value["__dict__"].items()}
            return {k: from_plain(v) for k, v in value.items()}
        return value

    def encode(value) -> str:
        return json.dumps(to_plain(value), allow_nan=False)

    def decode(text):
        return from_plain(json.loads(text))

    return encode, decode


encode, decode = _codec()


def _kernel_call(user_ns, request_path, reply_path, limit):
    """Runs in the learner's kernel: call a function of the notebook (or a harness on it), write the reply."""
    import json
    import traceback

    encode, decode = _codec()  # noqa: F821 -- defined by the shipped source
    try:
        with open(request_path, encoding="utf-8") as fh:
            request = json.load(fh)
        fn = user_ns[request["name"]] if request["name"] in user_ns else None
        if fn is None:
            raise NameError(f"name {request['name']!r} is not defined in the notebook")
        args, kwargs = decode(json.dumps(request["args"])), decode(json.dumps(request["kwargs"]))
        if request.get("harness"):
            namespace = {"__name__": "autograder_harness"}
            exec(compile(request["harness"], "<harness>", "exec"), namespace)
            value = namespace[request["harness_name"]](fn, **kwargs)
        else:
            value = fn(*args, **kwargs)
        text = json.dumps({"ok": True, "value": json.loads(encode(value))})
    except BaseException as exc:  # noqa: BLE001 -- reported as data
        try:   # the builtin classes it is, nearest first (a learner's NoRuns(ValueError): ValueError, Exception, ...)
            builtins = [c.__name__ for c in type(exc).__mro__ if getattr(c, "__module__", None) == "builtins"]
        except Exception:  # noqa: BLE001
            builtins = []
        text = json.dumps({"ok": False, "error": traceback.format_exception_only(type(exc), exc)[-1].strip()[:500],
                           "builtins": builtins[:20]})
    if len(text) > limit:
        text = json.dumps({"ok": False, "error": f"the return value is larger than {limit // 2**20} MB"})
    with open(reply_path, "w", encoding="utf-8") as fh:
        fh.write(text)


def kernel_source() -> str:
    """What the worker defines in the kernel once the notebook has run."""
    return "\n".join(inspect.getsource(f) for f in (array_values, _codec, _kernel_call))


class RemoteError(Exception):
    """The learner's function raised (or its reply could not be read); the message is the jail's, as data."""


RemoteError.__module__ = "builtins"  # shown as "RemoteError: ..." in a check's message


class RemoteNotImplemented(RemoteError, NotImplementedError):
    """The learner's function still raises NotImplementedError (a blank exercise)."""


# The builtin exceptions an exercise may ask for (``raise ValueError`` on an empty list): the learner's one comes
# back as a RemoteError that is also that builtin, so a check's ``except ValueError`` works on both grading paths.
REMOTE_BUILTINS = {}
for _base in (ValueError, TypeError, KeyError, IndexError, LookupError, ZeroDivisionError, OverflowError,
              ArithmeticError, AssertionError, AttributeError, NameError, RuntimeError):
    REMOTE_BUILTINS[_base.__name__] = type("RemoteError", (RemoteError, _base), {
        "__module__": "builtins", "__doc__": f"The learner's function raised {_base.__name__} in the sandbox."})


def remote_error(message: str, builtins=None) -> RemoteError:
    """The exception the proxy raises for the jail's error ``message`` ("ValueError: no runs"): a blank exercise's
    NotImplementedError, a builtin one as its :data:`REMOTE_BUILTINS` twin, anything else a plain RemoteError.
    ``builtins``, sent by the kernel, names the builtin classes of the exception, nearest first: the first the proxy
    knows decides (a learner's ``class EmptyRuns(ValueError)`` and a ``UnicodeDecodeError`` come back as
    ValueError's twin, a ``RecursionError`` as RuntimeError's); without it, the message's first word."""
    names = ([n for n in builtins if isinstance(n, str)] if isinstance(builtins, list)
             else [message.split(":", 1)[0].strip()])
    for name in names:
        if name == "NotImplementedError":
            return RemoteNotImplemented(message)
        if name in REMOTE_BUILTINS:
            return REMOTE_BUILTINS[name](message)
    return RemoteError(message)


class Proxy:
    """Stands for the learner's function ``name``: calling it runs the real function in the jailed kernel."""

    def __init__(self, channel, name: str):
        self._channel, self.__name__ = channel, name

    def _request(self, payload: dict):
        reply = self._channel.call(payload)  # bytes from the jail, or None (timeout, dead worker)
        if reply is None:
            raise RemoteError(self._channel.last_error or "no answer from the notebook's kernel")
        if len(reply) > MAX_REPLY_BYTES:
            raise RemoteError("the reply from the notebook is too large")
        try:
            message = json.loads(reply)
            if not isinstance(message, dict):
                raise ValueError
            if not message.get("ok"):
                error = str(message.get("error", "failed"))[:500]
                raise remote_error(error, message.get("builtins"))
            return decode(json.dumps(message["value"]))
        except RemoteError:
            raise
        except Exception:  # noqa: BLE001 -- anything unparsable is a failed call
            raise RemoteError("the reply from the notebook could not be read") from None

    def __call__(self, *args, **kwargs):
        try:
            payload = {"name": self.__name__, "args": json.loads(encode(list(args))),
                       "kwargs": json.loads(encode(kwargs))}
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot send the arguments to the sandbox: {exc}") from None
        return self._request(payload)

    def run_harness(self, harness, **kwargs):
        """Run ``harness(fn, **kwargs)`` in the kernel (its source is shipped); only plain data comes back."""
        payload = {"name": self.__name__, "args": [], "kwargs": json.loads(encode(kwargs)),
                   "harness": inspect.getsource(harness), "harness_name": harness.__name__}
        return self._request(payload)

    def __repr__(self) -> str:
        return f"<learner function {self.__name__} (in the sandbox)>"
