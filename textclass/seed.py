"""Fixed seeds for repeatable runs: ``textclass.seed.seed_everything()`` in a notebook's setup cell.

It seeds Python's ``random``, NumPy's global generator and torch (CPU and CUDA), asks torch for deterministic
algorithms where it offers them (``warn_only``: an operation without a deterministic version warns instead of
failing), and fixes torch's CPU thread count, since a different number of threads can change the order of
floating-point sums and so the last digits of a trained model. The runner (``./course run``) sets
``TEXTCLASS_SEED`` and ``TEXTCLASS_THREADS``; without them the defaults below apply.
"""
from __future__ import annotations

import os
import random

DEFAULT_SEED = 0
DEFAULT_THREADS = 2


def default_seed() -> int:
    return int(os.environ.get("TEXTCLASS_SEED", DEFAULT_SEED))


def default_threads() -> int:
    return int(os.environ.get("TEXTCLASS_THREADS", DEFAULT_THREADS))


def seed_everything(seed: int | None = None, *, threads: int | None = None, deterministic: bool = True) -> int:
    """Seed random, numpy and torch; return the seed used (``TEXTCLASS_SEED`` or 0 when ``seed`` is None)."""
    seed = default_seed() if seed is None else int(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    threads = default_threads() if threads is None else int(threads)
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
    return seed


def rng(seed: int | None = None):
    """A NumPy ``Generator`` seeded like :func:`seed_everything` (for code that should not touch global state)."""
    import numpy as np

    return np.random.default_rng(default_seed() if seed is None else seed)
