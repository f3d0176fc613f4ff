"""The MTEB 1.0.x classification protocol (e.g. ``Banking77Classification``), for embeddings computed any way.

MTEB's ``AbsTaskClassification`` with the logistic-regression evaluator does, per task:

* a random state seeded with 42 when the task is created (``np.random.RandomState(42)``);
* ``n_experiments`` (10) experiments; each one reshuffles the *same* index array in place and walks it,
  keeping the first ``samples_per_label`` (8) training examples of every label (``_undersample_data``);
* ``LogisticRegression(random_state=42, n_jobs=-1, max_iter=100)`` fitted on the embeddings of those
  examples, evaluated on the whole test split (accuracy and macro-F1);
* the task's score is the mean over the experiments (reported x100 on the leaderboard).

The encoder runs with batch size 32 in MTEB; the embeddings do not depend on the batch size (up to float
rounding), so any encoder that gives the same vectors (mean pooling + normalisation for the
sentence-transformers models) can be passed in as arrays.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

N_EXPERIMENTS = 10
SAMPLES_PER_LABEL = 8
SEED = 42
MAX_ITER = 100


def _sklearn_n_jobs() -> dict:
    """MTEB's ``n_jobs=-1``, where scikit-learn still takes it: from 1.8 it has no effect on
    LogisticRegression and passing it only raises a FutureWarning in every executed page."""
    import sklearn

    major, minor = (int(x) for x in sklearn.__version__.split(".")[:2])
    return {} if (major, minor) >= (1, 8) else {"n_jobs": -1}



def undersample(labels, samples_per_label: int, idxs: np.ndarray | None, rng: np.random.RandomState):
    """One MTEB experiment's training indices: shuffle ``idxs`` in place with ``rng`` (created once per task),
    then keep the first ``samples_per_label`` indices of each label. Returns ``(sampled_indices, idxs)``."""
    labels = np.asarray(labels)
    if idxs is None:
        idxs = np.arange(len(labels))
    rng.shuffle(idxs)
    counter = defaultdict(int)
    sampled = []
    for i in idxs:
        if counter[labels[i]] < samples_per_label:
            sampled.append(int(i))
            counter[labels[i]] += 1
    return sampled, idxs


def experiment_indices(train_labels, *, n_experiments: int = N_EXPERIMENTS,
                       samples_per_label: int = SAMPLES_PER_LABEL, seed: int = SEED) -> list[list[int]]:
    """The training indices of every experiment, in MTEB's order (they depend only on the labels and seed)."""
    rng = np.random.RandomState(seed)
    idxs, out = None, []
    for _ in range(n_experiments):
        sampled, idxs = undersample(train_labels, samples_per_label, idxs, rng)
        out.append(sampled)
    return out


@dataclass
class ProtocolResult:
    accuracies: list = field(default_factory=list)  # per experiment, fractions
    f1_macro: list = field(default_factory=list)
    predictions: list = field(default_factory=list)  # per experiment, test predictions

    @property
    def accuracy(self) -> float:
        """Mean accuracy over the experiments, in percent (the MTEB leaderboard number)."""
        return 100.0 * float(np.mean(self.accuracies))

    @property
    def f1(self) -> float:
        return 100.0 * float(np.mean(self.f1_macro))

    @property
    def spread(self) -> tuple[float, float, float]:
        """(min, max, standard deviation) of the per-experiment accuracies, in percent."""
        a = 100.0 * np.asarray(self.accuracies)
        return float(a.min()), float(a.max()), float(a.std(ddof=1) if len(a) > 1 else 0.0)

    def closest_to_mean(self) -> int:
        """The experiment whose accuracy is nearest the mean (its predictions make a representative submission)."""
        return int(np.argmin(np.abs(np.asarray(self.accuracies) - np.mean(self.accuracies))))


def run_protocol(train_embeddings, train_labels, test_embeddings, test_labels, *, n_experiments: int = N_EXPERIMENTS,
                 samples_per_label: int = SAMPLES_PER_LABEL, seed: int = SEED, max_iter: int = MAX_ITER,
                 experiments: list | None = None, progress: bool = True, desc: str = "MTEB experiments"
                 ) -> ProtocolResult:
    """Run the protocol on precomputed embeddings. ``train_embeddings`` may be a full array (indexed by the
    sampled indices) or a dict ``index -> vector`` holding at least the sampled indices."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from tqdm.auto import tqdm

    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    experiments = experiments or experiment_indices(train_labels, n_experiments=n_experiments,
                                                    samples_per_label=samples_per_label, seed=seed)
    n_jobs = _sklearn_n_jobs()
    result = ProtocolResult()
    for sampled in tqdm(experiments, desc=desc, disable=not progress):
        X = np.stack([train_embeddings[i] for i in sampled])
        clf = LogisticRegression(random_state=seed, max_iter=max_iter, **n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # MTEB keeps max_iter=100 and ignores this too
            clf.fit(X, train_labels[sampled])
        pred = clf.predict(test_embeddings)
        result.accuracies.append(float(accuracy_score(test_labels, pred)))
        result.f1_macro.append(float(f1_score(test_labels, pred, average="macro")))
        result.predictions.append(pred.astype(int).tolist())
    return result
