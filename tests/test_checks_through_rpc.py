"""Every level's solution functions, graded through the trusted grader's real proxy (``autograder.rpc.Proxy``)
with the real kernel side (``rpc.kernel_source()``, exec'd as the worker defines it in the learner's kernel) run
in this process instead of in the jail: the real codec carries the arguments, the return values and the
exceptions, where tests/test_checks_common.py's ``PlainProxy`` is a stand-in for it.

* every solution earns full marks through it, as in the notebook;
* a learner's ``ValueError`` is still a ``ValueError`` on the grader's side (an exercise may ask for one);
* a torch tensor returned where numbers are asked for scores the same in a notebook and through the proxy, and
  a tensor that carries a gradient never makes a check raise.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch

from autograder import rpc
from autograder.checks import finetune, improve
from rpc_helpers import proxies
from test_checks_common import LEVELS, _graded_cells

ALL_LEVELS = dict(LEVELS, finetune=finetune, improve=improve)
EXTRA = {"check_my_label_descriptions"}  # needs the real encoder and data: tests/test_checks_common.py fakes them


CASES = []
for _level, _module in ALL_LEVELS.items():
    _calls, _ns = _graded_cells(_level)
    for _check, _names in _calls:
        if _check not in EXTRA:
            CASES.append(pytest.param(_module, _check, {n: _ns[n] for n in _names}, id=f"{_level}.{_check}"))


@pytest.mark.parametrize("module,check,fns", CASES)
def test_solutions_earn_full_marks_through_the_real_proxy(module, check, fns, tmp_path):
    direct = getattr(module, check)(*fns.values())
    assert direct.score == direct.max_score == 10, direct.report()
    through = getattr(module, check)(*proxies(tmp_path, **fns))
    assert through.score == through.max_score == 10, through.report()


def test_a_learners_value_error_is_a_value_error_through_the_proxy(tmp_path):
    def refuse(runs):
        raise ValueError("no runs to choose from")

    def other(runs):
        raise KeyError("heldout_accuracy")

    p, q = proxies(tmp_path, refuse=refuse, other=other)
    with pytest.raises(ValueError, match="no runs to choose from"):
        p([])
    with pytest.raises(KeyError):
        q([])
    with pytest.raises(rpc.RemoteError):   # and still the grader's own kind, never the learner's class
        p([])
    blank = proxies(tmp_path, blank=lambda: (_ for _ in ()).throw(NotImplementedError()))[0]
    with pytest.raises(NotImplementedError):
        blank()
    # a learner's exception class of its own is a plain RemoteError, whatever it says
    class Custom(Exception):
        pass

    def custom():
        raise Custom("ValueError: not really")

    with pytest.raises(rpc.RemoteError) as err:
        proxies(tmp_path, custom=custom)[0]()
    assert not isinstance(err.value, ValueError)
    # ... but a class of its own built on a builtin one crosses as that builtin: `except ValueError` catches it
    class NoRuns(ValueError):
        pass

    def no_runs(runs):
        raise NoRuns("no runs to choose from")

    with pytest.raises(ValueError, match="NoRuns: no runs to choose from") as err:
        proxies(tmp_path, no_runs=no_runs)[0]([])
    assert isinstance(err.value, rpc.RemoteError) and not isinstance(err.value, NoRuns)
    # ... and so does a builtin the proxy has no twin for, as its nearest builtin base that has one
    class Undecodable(UnicodeDecodeError):
        pass

    def undecodable():
        raise Undecodable("utf-8", b"\xff", 0, 1, "invalid start byte")

    def recursion():
        raise RecursionError("maximum recursion depth exceeded")

    u, r = proxies(tmp_path, undecodable=undecodable, recursion=recursion)
    with pytest.raises(ValueError):
        u()
    with pytest.raises(RuntimeError, match="maximum recursion depth"):
        r()


def _as_tensor(fn, grad=False):
    """``fn`` returning torch tensors where it returned numbers or arrays (dict values and sequences too)."""
    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
            return torch.tensor(value, dtype=torch.float64 if any(isinstance(v, float) for v in value) else torch.int64)
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            return torch.tensor(value, dtype=torch.float64, requires_grad=grad)
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        return value

    def wrapped(*args, **kwargs):
        return convert(fn(*args, **kwargs))

    wrapped.__name__ = fn.__name__
    return wrapped


TENSOR_CASES = [pytest.param(getattr(ALL_LEVELS[lv], check), names, id=f"{lv}.{check}")
                for lv, check, names in [
                    ("improve", "check_paired_significance", ["paired_significance"]),
                    ("improve", "check_calibration", ["fit_temperature", "expected_calibration_error"]),
                    ("improve", "check_ensembles", ["average_probabilities", "stacking"]),
                    ("improve", "check_error_analysis", ["most_confident_errors", "slice_accuracy"]),
                    ("improve", "check_augmentation", ["mine_paraphrases", "drop_one_word"]),
                    ("finetune", "check_count_padding", ["count_padding"])]]


@pytest.mark.parametrize("check,names", TENSOR_CASES)
@pytest.mark.parametrize("grad", [False, True], ids=["tensor", "tensor-with-grad"])
def test_tensor_returns_score_alike_in_the_notebook_and_through_the_proxy(check, names, grad, tmp_path):
    level = check.__module__.rsplit(".", 1)[-1]
    _, namespace = _graded_cells(level)
    fns = {n: _as_tensor(namespace[n], grad) for n in names}
    direct = check(*fns.values())            # never raises, whatever the tensors carry
    through = check(*proxies(tmp_path, **fns))
    assert direct.score == through.score == 10, direct.report() + "\n" + through.report()


def test_bfloat16_and_zero_dimensional_tensors_travel_as_numbers(tmp_path):
    half = proxies(tmp_path, half=lambda: torch.tensor([0.5, 0.25], dtype=torch.bfloat16))[0]()
    assert isinstance(half, np.ndarray) and half.tolist() == [0.5, 0.25]
    one = proxies(tmp_path, one=lambda: torch.tensor(3.5, requires_grad=True) * 2)[0]()
    assert one == 7.0 and isinstance(one, float)


# ------------------------------------------------- right answers in other clothes: full marks on both paths
def _pandas(fn):
    import pandas as pd

    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        return pd.DataFrame(out) if np.ndim(out) == 2 else pd.Series(np.asarray(out))

    wrapped.__name__ = fn.__name__
    return wrapped


def _in_place_softmax(scores, temperature):   # right numbers, but it divides its argument in place
    z = np.asarray(scores, dtype=float)
    z /= temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _float32_majority(train_labels, eval_labels):   # torch's .float().mean(): right, to float32 precision
    label = int(np.bincount(np.asarray(train_labels)).argmax())
    return label, float(100 * torch.tensor(np.asarray(eval_labels) == label).float().mean())


def _variant(level, check, replace):
    calls, namespace = _graded_cells(level)
    names = dict(calls)[check]
    return getattr(ALL_LEVELS[level], check), {n: replace.get(n, lambda f: f)(namespace[n]) for n in names}


VARIANTS = {
    "orientation.label_balance-as-Series": ("orientation", "check_label_balance", {"label_balance": _pandas}),
    "zeroshot.cosine_scores-as-DataFrame": ("zeroshot", "check_cosine_scores", {"cosine_scores": _pandas}),
    "zeroshot.softmax-changes-its-argument": ("zeroshot", "check_softmax_with_temperature",
                                              {"softmax_with_temperature": lambda f: _in_place_softmax}),
    "orientation.majority-in-float32": ("orientation", "check_majority_baseline",
                                        {"majority_baseline": lambda f: _float32_majority}),
    "embeddings.sample_per_class-as-tensors": ("embeddings", "check_sample_per_class", {"sample_per_class": _as_tensor}),
    "beyond.stratified_split-as-tensors": ("beyond", "check_stratified_split", {"stratified_split": _as_tensor}),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_right_answers_in_other_clothes_earn_full_marks_on_both_paths(name, tmp_path):
    check, fns = _variant(*VARIANTS[name])
    direct = check(*fns.values())
    through = check(*proxies(tmp_path, **fns))
    assert direct.score == through.score == 10, direct.report() + "\n" + through.report()


# ------------------------------------------------------------------- wrong answers that used to go free
def _no_length_check(predictions, labels, z=1.959964):
    right = np.asarray(predictions) == np.asarray(labels)   # lengths 1 and 4 broadcast without a word
    n, k = right.size, right.sum()
    p, denom = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / denom, z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return 100 * p, 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def _strictly_above(probabilities, threshold):   # "at least" read as "more than"
    return [int(p.argmax()) if p.max() > threshold else "UNCERTAIN" for p in np.asarray(probabilities)]


@pytest.mark.parametrize("level,check,name,wrong,most", [
    ("reproduce", "check_accuracy_with_interval", "accuracy_with_interval", _no_length_check, 9),
    ("reproduce", "check_abstain", "abstain", _strictly_above, 7.5)])
def test_wrong_answers_that_used_to_keep_their_points_lose_them(level, check, name, wrong, most):
    fn, fns = _variant(level, check, {name: lambda f: wrong})
    result = fn(*fns.values())
    assert result.score <= most, result.report()


def test_sklearns_first_import_is_not_charged_to_the_learner():
    """``import sklearn.model_selection`` draws from Python's random the first time: a split that imports it in its
    body still leaves the global random state alone, whichever path grades first (a fresh process)."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys; sys.path.insert(0, "tests")
from test_checks_common import _graded_cells
from autograder.checks import beyond
def stratified_split(labels, test_fraction, seed):
    from sklearn.model_selection import train_test_split
    return _ns["stratified_split"](labels, test_fraction, seed)
_, _ns = _graded_cells("beyond")
assert "sklearn.model_selection" not in sys.modules
print(beyond.check_stratified_split(stratified_split).score)
"""
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.split()[-1]) == 10, proc.stdout


def test_descriptions_as_tuples_with_a_training_phrase_score_alike(tmp_path, data_dir):
    """A tuple of descriptions that holds an SST-2 training phrase: the phrase is left out, and the re-call with
    shuffled labels is compared by value, so the notebook and the grader (where tuples arrive as lists) agree."""
    from autograder.checks import zeroshot
    from test_checks_common import _FAKE_SST2

    def my_label_descriptions():
        return (("A dull, boring film.", "I hated this movie.", "The film is a bad one."),
                ("A great, moving film.", "I loved this movie.", "The film is a good one."))

    direct = zeroshot.check_my_label_descriptions(my_label_descriptions, **_FAKE_SST2)
    through = zeroshot.check_my_label_descriptions(*proxies(tmp_path, my_label_descriptions=my_label_descriptions),
                                                   **_FAKE_SST2)
    assert direct.score == through.score, direct.report() + "\n" + through.report()
    assert "left out as SST-2 training phrases" in direct.report()
    assert "change when the labels" not in direct.report()
