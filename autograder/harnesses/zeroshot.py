"""Harnesses for the Zero-shot level (rules in autograder/harnesses/__init__.py)."""


def descriptions_with_permuted_labels(fn, seed):
    """Call ``fn()`` (the learner's ``my_label_descriptions``) while every dataset ``textclass.data`` loads comes
    back with its labels permuted (seeded). Zero-shot descriptions must not depend on labelled data, so a
    correct function returns the same descriptions as in a normal call."""
    import numpy as np

    from textclass import data

    original = data.load_split
    rng = np.random.RandomState(int(seed))

    def permuted(*args, **kwargs):
        ds = original(*args, **kwargs)
        try:
            labels = list(ds["label"])
            shuffled = [int(x) for x in rng.permutation(labels)]
            if hasattr(ds, "remove_columns"):
                return ds.remove_columns("label").add_column("label", shuffled)
            ds = dict(ds)
            ds["label"] = shuffled
        except Exception:  # noqa: BLE001 -- a split without labels stays as it is
            pass
        return ds

    data.load_split = permuted
    try:
        out = fn()
    finally:
        data.load_split = original
    if isinstance(out, (list, tuple)):
        return [[str(x) for x in c] if isinstance(c, (list, tuple)) else str(c) for c in out]
    return {"unreadable": type(out).__name__}
