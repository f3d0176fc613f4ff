"""Harnesses for the Reproduce level (rules in autograder/harnesses/__init__.py)."""


def batches(fn, sentences, batch_size):
    """``fn(classify_batch, sentences, batch_size)`` with a recording fake ``classify_batch`` whose class-1
    probability encodes each sentence's length; returns the rows and every batch the fake received."""
    import numpy as np

    calls = []

    def classify_batch(batch):
        batch = [str(s) for s in batch]
        calls.append(batch)
        p = np.array([(len(s) % 7) / 10 + 0.2 for s in batch])
        return np.stack([1 - p, p], axis=1) if len(batch) else np.zeros((0, 2))

    out = fn(classify_batch, list(sentences), int(batch_size))
    try:
        rows = np.asarray(out, dtype=np.float64)
        rows = rows.tolist() if rows.dtype != object else None
    except Exception:  # noqa: BLE001
        rows = None
    return {"rows": rows, "calls": calls, "type": type(out).__name__}
