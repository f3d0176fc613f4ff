"""Batched, length-sorted evaluation.

The reference script classifies one sentence at a time::

    for example in dataset:
        classifier(example["sentence"])

which pads nothing but also batches nothing. :func:`predict_proba` sorts the sentences by length,
feeds them in batches (so each batch pads to nearly the same length), runs under
``torch.inference_mode`` on the best available device, and puts the results back in the original
order. :func:`evaluate` adds accuracy with a 95% Wilson interval and a confusion matrix.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from textclass.config import resolve_device


def tokenized_batches(tokenizer, texts, batch_size: int, *, max_length: int, return_tensors: str = "pt"):
    """``(indices, encoding)`` for each batch of :func:`length_sorted_batches` over the texts' character lengths,
    padded to the batch's longest and truncated to ``max_length``: how the course's batched inference tokenizes
    (fine-tuned classifiers, encoders, scripts/int8_on_cpu.py). An int8 model quantizes its activations per batch,
    so the batching is part of its predictions."""
    for batch in length_sorted_batches([len(t) for t in texts], batch_size):
        yield batch, tokenizer([texts[i] for i in batch], padding=True, truncation=True, max_length=max_length,
                               return_tensors=return_tensors)


def length_sorted_batches(lengths, batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size``, shortest items first."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _logits(output):
    return output.logits if hasattr(output, "logits") else output


def batch_classifier(model, tokenizer, *, device: str = "auto", max_length: int = 128):
    """A function ``list of sentences -> probabilities`` for one batch (what an evaluation loop calls)."""
    import torch

    device = resolve_device(device)
    model.to(device)
    model.eval()

    def classify_batch(batch):
        enc = tokenizer(list(batch), padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        with torch.inference_mode():
            return torch.softmax(_logits(model(**enc)).float(), dim=-1).cpu().numpy()

    return classify_batch


def predict_proba(model, tokenizer, texts, *, batch_size: int = 64, device: str = "auto", max_length: int = 128,
                  progress: bool = True, desc: str = "evaluating") -> np.ndarray:
    """Class probabilities, shape (len(texts), num_classes), in the order of ``texts``.

    ``model`` is any torch module whose forward takes the tokenizer's output and returns logits
    (a Hugging Face sequence classifier, or :class:`textclass.probe.ProbeClassifier`).
    """
    from tqdm.auto import tqdm

    texts = list(texts)
    classify_batch = batch_classifier(model, tokenizer, device=device, max_length=max_length)
    lengths = [len(tokenizer.tokenize(t)) for t in texts] if len(texts) < 5000 else [len(t) for t in texts]
    out = [None] * len(texts)
    with tqdm(total=len(texts), desc=desc, disable=not progress, unit="sent") as bar:
        for batch in length_sorted_batches(lengths, batch_size):
            for i, p in zip(batch, classify_batch([texts[i] for i in batch])):
                out[i] = p
            bar.update(len(batch))
    return np.stack(out) if out else np.zeros((0, 0))


def per_sentence_proba(model, tokenizer, texts, *, device: str = "auto", max_length: int = 128,
                       progress: bool = True) -> np.ndarray:
    """The reference script's loop: one sentence per forward pass (what ``pipeline(...)(sentence)`` does)."""
    from tqdm.auto import tqdm

    classify_batch = batch_classifier(model, tokenizer, device=device, max_length=max_length)
    texts = list(texts)
    return np.concatenate([classify_batch([text]) for text in
                           tqdm(texts, desc="one sentence at a time", disable=not progress, unit="sent")])


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion ``correct / n`` (as fractions)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def confusion_matrix(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """``cm[true, predicted]`` counts."""
    labels = np.asarray(labels, dtype=int)
    predictions = np.asarray(predictions, dtype=int)
    k = num_classes or int(max(labels.max(initial=0), predictions.max(initial=0)) + 1)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def coverage_accuracy(probabilities, labels, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """For each threshold: the share of examples answered (max probability >= threshold) and the
    accuracy on those answered (nan when none are)."""
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    coverage, accuracy = [], []
    for t in thresholds:
        answered = confidence >= t
        coverage.append(answered.mean())
        accuracy.append(correct[answered].mean() if answered.any() else float("nan"))
    return np.array(coverage), np.array(accuracy)


@dataclass
class EvalResult:
    predictions: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    seconds: float
    label_names: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def correct(self) -> int:
        return int((self.predictions == self.labels).sum())

    @property
    def accuracy(self) -> float:
        """Accuracy in percent."""
        return 100.0 * self.correct / self.n

    @property
    def interval(self) -> tuple[float, float]:
        lo, hi = wilson_interval(self.correct, self.n)
        return 100.0 * lo, 100.0 * hi

    @property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predictions, self.probabilities.shape[1])

    @property
    def examples_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        lo, hi = self.interval
        return (f"accuracy {self.accuracy:.2f}% ({self.correct}/{self.n}), 95% CI [{lo:.2f}, {hi:.2f}], "
                f"{self.examples_per_second:.0f} sentences/s")


def evaluate(model, tokenizer, dataset, *, text_column: str | None = None, batch_size: int = 64,
             device: str = "auto", max_length: int = 128, progress: bool = True, label_names=None) -> EvalResult:
    """Evaluate a classifier on a labelled dataset (a ``datasets.Dataset`` or a dict of columns)."""
    columns = dataset.column_names if hasattr(dataset, "column_names") else list(dataset)
    text_column = text_column or ("sentence" if "sentence" in columns else "text")
    texts, labels = list(dataset[text_column]), np.asarray(dataset["label"], dtype=int)
    if (labels < 0).any():
        raise ValueError("this split has no public labels (label -1); predict it and submit to the autograder instead")
    start = time.perf_counter()
    probs = predict_proba(model, tokenizer, texts, batch_size=batch_size, device=device, max_length=max_length,
                          progress=progress)
    seconds = time.perf_counter() - start
    return EvalResult(probs.argmax(axis=1), probs, labels, seconds, list(label_names or []))


def plot_confusion(cm, label_names=None, ax=None, title="Confusion matrix"):
    """A labelled heat map of ``cm[true, predicted]``."""
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    ax = ax or plt.subplots(figsize=(4, 3.5))[1]
    ax.imshow(cm, cmap="Blues")
    names = label_names or [str(i) for i in range(len(cm))]
    ax.set_xticks(range(len(cm)), names)
    ax.set_yticks(range(len(cm)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_title(title)
    return ax


def plot_coverage_accuracy(coverage, accuracy, thresholds=None, ax=None, label=None):
    """Accuracy on the answered examples against the share answered."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.plot(100 * np.asarray(coverage), 100 * np.asarray(accuracy), marker=".", label=label)
    if thresholds is not None:
        shown = set()
        for c, a, t in list(zip(coverage, accuracy, thresholds))[:: max(1, len(thresholds) // 6)]:
            gap = 1 - float(t)  # enough decimals that thresholds near 1 stay distinct (0.995, 0.9999)
            text = f"{t:.{2 if not 0 < gap < 0.01 else min(8, int(np.ceil(-np.log10(gap))) + 1)}f}"
            if text not in shown:
                shown.add(text)
                ax.annotate(text, (100 * c, 100 * a), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("coverage: % of sentences answered")
    ax.set_ylabel("accuracy on answered (%)")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    return ax
