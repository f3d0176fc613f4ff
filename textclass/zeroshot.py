"""Zero-shot classification with sentence embeddings: compare each sentence with a description of each class.

A class is described by one or more sentences ("This is a negative review.", "The movie was terrible.");
its *class embedding* is the mean of their normalised embeddings, normalised again. A sentence goes to the
class whose embedding is most similar (cosine). No training data is used, only the descriptions.
"""
from __future__ import annotations

import re

import numpy as np


def normalize_rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None)


def cosine_scores(sentence_embeddings, label_embeddings) -> np.ndarray:
    """``scores[i, k]`` = cosine similarity of sentence i and class k (inputs need not be normalised)."""
    return normalize_rows(sentence_embeddings) @ normalize_rows(label_embeddings).T


def class_embeddings(encode, descriptions) -> np.ndarray:
    """One unit vector per class: the normalised mean of the normalised embeddings of its descriptions.

    ``encode(list_of_str) -> array``; ``descriptions``: per class, a string or a list of strings.
    """
    per_class = [[d] if isinstance(d, str) else list(d) for d in descriptions]
    flat = [d for ds in per_class for d in ds]
    emb = normalize_rows(encode(flat))
    out, start = [], 0
    for ds in per_class:
        out.append(emb[start:start + len(ds)].mean(axis=0))
        start += len(ds)
    return normalize_rows(np.stack(out))


def softmax(scores, temperature: float = 0.05) -> np.ndarray:
    """Turn cosine scores into probabilities (rows sum to 1); a smaller temperature is more confident."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def intent_description(name: str) -> str:
    """A Banking77 intent name as words: ``'Refund_not_showing_up'`` -> ``'refund not showing up'``."""
    return re.sub(r"\s+", " ", re.sub(r"[_?]", " ", name)).strip().lower()


def zero_shot_predict(sentence_embeddings, encode, descriptions) -> tuple[np.ndarray, np.ndarray]:
    """``(predictions, cosine scores)`` for precomputed sentence embeddings and per-class descriptions."""
    scores = cosine_scores(sentence_embeddings, class_embeddings(encode, descriptions))
    return scores.argmax(axis=1), scores
