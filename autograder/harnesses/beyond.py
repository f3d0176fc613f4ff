"""Harnesses for the Beyond SST-2 level (rules in autograder/harnesses/__init__.py)."""


def call_watching_rngs(fn, args):
    """``fn(*args)``, and whether the call left numpy's and Python's global random state untouched."""
    import random

    import numpy as np

    def plain(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        return {"unreadable": type(x).__name__}

    np_before, py_before = np.random.get_state(), random.getstate()
    out = fn(*args)
    np_after, py_after = np.random.get_state(), random.getstate()
    same_np = (np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
               and tuple(np_before[2:]) == tuple(np_after[2:]))
    return {"out": plain(out), "global_rng_untouched": bool(same_np and py_before == py_after)}
