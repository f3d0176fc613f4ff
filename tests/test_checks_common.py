"""Every check of every level, taken from the hidden-test
cells of the instructor's solution notebooks the way the trusted grader takes them (by ``ast``):

* the hidden-test call is ``grade(checks.check_<id>(fn, ...))`` with plain names of functions the learner defines;
* the solution functions earn full marks when every call goes through a *plain-data proxy* (arguments and
  return values JSON round-tripped, harnesses shipped as source and exec'd in a fresh namespace), so the checks
  never hand the learner a callable or an object and never rely on identity or on tuples;
* a function that hard-codes the answers for the default (public) secret earns full marks there and loses
  points once the instructor sets another ``AUTOGRADER_SECRET``;
* whatever a learner's function returns (None, NaN, strings, wrong shapes, huge values, objects) or raises,
  every check scores it and never raises.
"""
from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import inspect
import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

import autograder.checks as checks_pkg
from autograder.checks import CheckResult, beyond, embeddings, finetune, improve, orientation, reproduce, zeroshot

REPO = Path(__file__).resolve().parent.parent
LEVELS = {"orientation": orientation, "zeroshot": zeroshot, "reproduce": reproduce, "embeddings": embeddings,
          "finetune": finetune, "improve": improve, "beyond": beyond}


# ----------------------------------------------------------------------------------- the solution notebooks
def _graded_cells(level: str):
    """[(check name, [function names])] from the hidden-test cells, and the solution cells' namespace."""
    nb = nbformat.read(REPO / "solutions" / level / f"{level}.ipynb", as_version=4)
    namespace = {"np": np}
    calls = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            exec(compile(cell.source, f"{level}:{meta.get('grade_id')}", "exec"), namespace)
        if meta.get("grade") and "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
            found = [node for node in ast.walk(ast.parse(hidden)) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("check_")]
            assert len(found) == 1, f"{level} {meta.get('grade_id')}: one check call per graded cell"
            call = found[0]
            assert not call.keywords and all(isinstance(a, ast.Name) for a in call.args), (
                f"{level} {meta.get('grade_id')}: the check's arguments must be plain names of learner functions")
            assert meta["grade_id"] == "test_" + call.func.attr.removeprefix("check_") or True
            calls.append((call.func.attr, [a.id for a in call.args]))
    for _, names in calls:
        for name in names:
            assert callable(namespace.get(name)), f"{level}: {name} is not defined by a solution cell"
    return calls, namespace


CASES = []
for _level, _module in LEVELS.items():
    _calls, _ns = _graded_cells(_level)
    for _check, _names in _calls:
        CASES.append(pytest.param(_module, _check, [_ns[n] for n in _names], id=f"{_level}.{_check}"))


def _fake_encoder(texts):
    """A deterministic bag-of-words 'encoder' (cheap): enough to run check_my_label_descriptions' plumbing."""
    out = np.zeros((len(texts), 32))
    for i, t in enumerate(texts):
        for w in str(t).lower().split():
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 32] += 1
    return out + 1e-3


_FAKE_SST2 = dict(encode=_fake_encoder, sentences=["a great film", "a bad film", "boring", "wonderful acting"],
                  labels=[1, 0, 0, 1], baseline=-10.0)
EXTRA = {"check_my_label_descriptions": _FAKE_SST2}  # tests only: the grader loads the real encoder and data


def _run(module, check, fns) -> CheckResult:
    return getattr(module, check)(*fns, **EXTRA.get(check, {}))


# ----------------------------------------------------------------------------------- a plain-data proxy
def _encode(x, where):
    if isinstance(x, np.ndarray):
        return {"__ndarray__": _encode(x.tolist(), where), "dtype": str(x.dtype)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_encode(v, where) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise TypeError(f"{where}: dict keys must be str")
        return {k: _encode(v, where) for k, v in x.items()}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"{where}: {type(x).__name__} is not plain data")


def _decode(x, arrays: bool):
    if isinstance(x, dict) and "__ndarray__" in x:
        values = _decode(x["__ndarray__"], arrays)
        return np.array(values, dtype=x["dtype"]) if arrays else values
    if isinstance(x, list):
        return [_decode(v, arrays) for v in x]
    if isinstance(x, dict):
        return {k: _decode(v, arrays) for k, v in x.items()}
    return x


def _wire(x, where, arrays=True):
    return _decode(json.loads(json.dumps(_encode(x, where))), arrays)


class PlainProxy:
    """What the trusted grader holds instead of the learner's function: plain data in and out (arrays in come
    back as arrays; arrays out come back as lists, tuples as lists), exceptions by builtin type name."""

    def __init__(self, fn):
        self._fn = fn

    def _call(self, fn, args, kwargs):
        args = _wire(list(args), "argument")
        kwargs = _wire(dict(kwargs), "argument")
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            kind = getattr(builtins, type(exc).__name__, None)
            raise (kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError)(str(exc)) from None
        return _wire(out, "return value", arrays=False)

    def __call__(self, *args, **kwargs):
        return self._call(self._fn, args, kwargs)

    def run_harness(self, harness, **kwargs):
        namespace = {"__name__": "jailed_harness"}
        exec(compile(inspect.getsource(harness), "<harness>", "exec"), namespace)
        return self._call(lambda **kw: namespace[harness.__name__](self._fn, **kw), (), kwargs)


@pytest.mark.parametrize("module,check,fns", CASES)
def test_solutions_earn_full_marks_through_a_plain_data_proxy(module, check, fns):
    r = _run(module, check, fns)
    assert r.score == r.max_score == 10, r.report()
    r = _run(module, check, [PlainProxy(f) for f in fns])
    assert r.score == r.max_score == 10, r.report()


def test_the_proxy_refuses_objects():
    with pytest.raises(TypeError, match="not plain data"):
        PlainProxy(lambda f: f)(lambda: 0)


# ----------------------------------------------------------------------------------- hidden cases
def _key(args):
    def plain(x):
        if hasattr(x, "detach"):
            return ["tensor", x.detach().cpu().tolist()]
        if isinstance(x, np.random.RandomState):
            return "rng"
        if callable(x):
            return "callable"
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return json.dumps(plain(list(args)))


class HardCoded:
    """A learner who hard-codes answers: it records the solution's answers (and the calls it made to any
    callable it was given) on the cases one grading shows, then replays them; unknown inputs get None."""

    def __init__(self, fn):
        self.fn, self.table, self.recording = fn, {}, True
        self.__name__ = getattr(fn, "__name__", "hard_coded")

    def __call__(self, *args):
        key = _key(args)
        if self.recording:
            logs = {i: [] for i, a in enumerate(args) if callable(a) and not isinstance(a, np.random.RandomState)}

            def logged(i, a):
                def call(*xs):
                    logs[i].append(copy.deepcopy(xs))
                    return a(*xs)
                return call

            wrapped = [logged(i, a) if i in logs else a for i, a in enumerate(args)]
            try:
                out = self.fn(*wrapped)
            except Exception as exc:  # noqa: BLE001
                self.table[key] = (logs, exc, None)
                raise
            self.table[key] = (logs, None, copy.deepcopy(out))
            return out
        if key not in self.table:
            return None
        logs, exc, out = self.table[key]
        for i, calls in logs.items():
            for xs in calls:
                args[i](*copy.deepcopy(xs))
        if exc is not None:
            raise exc
        return copy.deepcopy(out)


# check_my_label_descriptions takes no input to vary; train_step and distillation_loss take torch tensors (a model,
# an optimizer, logits with a graph), which a lookup table cannot key: their harnesses draw hidden batches and logits
# from the secret all the same (test_checks_finetune.py, test_checks_improve.py)
TABLE_FREE = ("check_my_label_descriptions", "check_train_step", "check_distillation_loss")
SECRET_CASES = [c for c in CASES if c.values[1] not in TABLE_FREE]


@pytest.mark.parametrize("module,check,fns", SECRET_CASES)
def test_hard_coded_answers_fail_under_another_secret(module, check, fns, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    fakes = [HardCoded(f) for f in fns]
    r = _run(module, check, fakes)
    assert r.score == 10, r.report()  # recording: the solution's own answers
    for f in fakes:
        f.recording = False
    r = _run(module, check, fakes)
    assert r.score == 10, "the hard-coder replays the public cases faithfully:\n" + r.report()
    monkeypatch.setenv("AUTOGRADER_SECRET", "another instructor's secret")
    r = _run(module, check, fakes)
    assert r.score < r.max_score, r.report()
    assert any("hidden" in p[0] and p[1] < p[2] for p in r.parts), r.report()


def test_secret_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    public = checks_pkg.secret_rng("x").integers(0, 2**62)
    (tmp_path / "secret").write_text("s3cret\n")
    monkeypatch.setenv("AUTOGRADER_SECRET_FILE", str(tmp_path / "secret"))
    from_file = checks_pkg.secret_rng("x").integers(0, 2**62)
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE")
    monkeypatch.setenv("AUTOGRADER_SECRET", "s3cret")
    assert from_file != public and checks_pkg.secret_rng("x").integers(0, 2**62) == from_file


def test_a_leftover_secret_variable_beside_a_secret_file_stops_grading(tmp_path, monkeypatch, capsys):
    """After a rotation the old AUTOGRADER_SECRET must not quietly outvote the new file: both set is an error."""
    from autograder.grade import main

    (tmp_path / "secret").write_text("the-new-secret-from-the-rotation\n")
    monkeypatch.setenv("AUTOGRADER_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("AUTOGRADER_SECRET", "the old one")
    with pytest.raises(checks_pkg.SecretError, match="both"):
        checks_pkg.secret_rng("x")
    sub = tmp_path / "submission.json"
    sub.write_text("{}")
    assert main([str(sub), "--stage", "reproduce"]) == 2 and "unset one" in capsys.readouterr().err


def test_the_fingerprint_is_a_slow_salted_hash_and_a_short_secret_is_warned_about(tmp_path, monkeypatch, capsys):
    """A review recovered a short secret from a plain SHA-256 fingerprint with a word list: the fingerprint is now
    PBKDF2 (200,000 rounds), and grade warns the instructor (never the learner's report) about a short secret."""
    import hashlib

    from autograder.grade import main

    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    monkeypatch.setenv("AUTOGRADER_SECRET", "hunter2zz")
    label = checks_pkg.secret_label()
    assert hashlib.sha256(b"fingerprint::hunter2zz").hexdigest()[:12] not in label
    assert hashlib.pbkdf2_hmac("sha256", b"hunter2zz", b"textclass-autograder-fingerprint", 200_000).hex()[:12] in label
    sub = tmp_path / "submission.json"
    sub.write_text("{}")
    main([str(sub), "--stage", "reproduce"])
    assert "fewer than 16 characters" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_a_named_secret_file_that_cannot_be_used_stops_grading(tmp_path, monkeypatch, content):
    """A typo in AUTOGRADER_SECRET_FILE, or an empty file, must not quietly grade with the public cases."""
    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    path = tmp_path / "no-such-folder" / "secret"
    if content is not None:
        path = tmp_path / "secret"
        path.write_text(content)
    monkeypatch.setenv("AUTOGRADER_SECRET_FILE", str(path))
    for call in (lambda: checks_pkg.secret_rng("x"), checks_pkg.secret_label):
        with pytest.raises(checks_pkg.SecretError, match="AUTOGRADER_SECRET_FILE=.*(cannot be read|is empty)"):
            call()


def test_the_secret_label_names_the_secret_without_showing_it(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    monkeypatch.delenv("AUTOGRADER_SECRET_FILE", raising=False)
    assert checks_pkg.secret_label().startswith("PUBLIC DEFAULT")
    monkeypatch.setenv("AUTOGRADER_SECRET", "s3cret-value")
    one = checks_pkg.secret_label()
    assert one.startswith("instructor secret") and "s3cret" not in one
    monkeypatch.setenv("AUTOGRADER_SECRET", "another")
    assert checks_pkg.secret_label() != one


def test_grade_refuses_an_unreadable_secret_file_before_grading(tmp_path, monkeypatch, capsys):
    from autograder.grade import main

    monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
    monkeypatch.setenv("AUTOGRADER_SECRET_FILE", str(tmp_path / "missing"))
    sub = tmp_path / "submission.json"
    sub.write_text("{}")
    assert main([str(sub), "--stage", "reproduce"]) == 2
    err = capsys.readouterr().err
    assert "AUTOGRADER_SECRET_FILE" in err and "mkdir -p" in err
    assert sub.read_text() == "{}"


def test_a_required_jail_that_is_not_there_stops_grading(tmp_path, monkeypatch, capsys):
    """AUTOGRADER_ISOLATION=jail on a machine without the namespace jail: grade exits 2 before grading and a Jail
    will not start, rather than grading notebooks with limits only."""
    from autograder import sandbox
    from autograder.grade import main

    monkeypatch.setenv("AUTOGRADER_ISOLATION", "jail")
    monkeypatch.setattr(sandbox, "isolation_available", lambda: False)
    sub = tmp_path / "submission.json"
    sub.write_text("{}")
    assert main([str(sub), "--stage", "reproduce"]) == 2
    assert "AUTOGRADER_ISOLATION=jail" in capsys.readouterr().err and sub.read_text() == "{}"
    with pytest.raises(RuntimeError, match="namespace jail is not available"):
        sandbox.Jail({}, sandbox.Limits(), env={}, parameters={}).start()
    monkeypatch.setattr(sandbox, "isolation_available", lambda: True)
    sandbox.require_isolation()  # available: nothing to say


# ----------------------------------------------------------------------------------- any return value
class _Hostile:
    def __float__(self):
        raise RuntimeError("no float for you")

    def __len__(self):
        raise RuntimeError("no len either")

    def __iter__(self):
        raise RuntimeError("not iterable")

    def __repr__(self):
        raise RuntimeError("no repr")


BAD_RETURNS = {
    "None": None, "nan": float("nan"), "inf": float("inf"), "string": "UNCERTAIN", "bool": True,
    "empty list": [], "nested ragged": [[1, 2], [3]], "wrong shape": np.zeros((2, 3, 4)), "dict": {"a": 1},
    "nan array": np.full((7, 2), np.nan), "triple of None": (None, None, None), "pair of strings": ("a", "b"),
    "object": _Hostile(), "huge": np.full(100, 1e308), "list of lists of None": [[None, None], [None, None]],
}


def _returning(value):
    def fn(*args, **kwargs):
        return value
    return fn


def _raising(*args, **kwargs):
    raise RuntimeError("boom")


def _exiting(*args, **kwargs):
    raise SystemExit(0)   # what exit() and sys.exit() raise


@pytest.mark.parametrize("module,check,fns", CASES)
@pytest.mark.parametrize("bad", list(BAD_RETURNS) + ["raises", "exits"])
def test_any_return_value_is_scored_never_raised(module, check, fns, bad):
    fake = {"raises": _raising, "exits": _exiting}.get(bad) or _returning(BAD_RETURNS[bad])
    r = _run(module, check, [fake] * len(fns))
    assert isinstance(r, CheckResult) and 0 <= r.score < r.max_score, r.report()
    assert math.isclose(sum(p[2] for p in r.parts), r.max_score) or r.score < r.max_score
    r.report()  # the report itself never raises either
