"""Classification metrics, calibration and abstention (pure, numpy + scikit-learn)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def label_set(references: Sequence[str], predictions: Sequence[str], known: Sequence[str] = ()) -> list[str]:
    """Every label that occurs, model labels first in their own order."""
    labels = list(dict.fromkeys(known))
    labels += sorted({*references, *predictions} - set(labels))
    return labels


def classification_report(references: Sequence[str], predictions: Sequence[str],
                          labels: Sequence[str] = ()) -> dict:
    """Accuracy, precision/recall/F1 (macro, weighted, per class) and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = label_set(references, predictions, labels)
    refs, preds = list(references), list(predictions)
    summary = {"accuracy": float(accuracy_score(refs, preds))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(refs, preds, labels=labels, average=average, zero_division=0)
        summary |= {f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)}
    p, r, f, s = precision_recall_fscore_support(refs, preds, labels=labels, average=None, zero_division=0)
    per_class = {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                 for i, label in enumerate(labels)}
    matrix = confusion_matrix(refs, preds, labels=labels).tolist()
    return {"summary": summary, "per_class": per_class, "labels": labels, "confusion_matrix": matrix}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=float) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probabilities: np.ndarray, targets: Sequence[int], bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.size == 0:
        return float("nan")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(targets)
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def fit_temperature(logits: np.ndarray, targets: Sequence[int]) -> float:
    """Temperature scaling: the T minimising validation negative log-likelihood (grid + refinement)."""
    logits, targets = np.asarray(logits, dtype=float), np.asarray(targets)
    if logits.size == 0:
        return 1.0

    def nll(t: float) -> float:
        return float(-np.log(softmax(logits, t)[np.arange(len(targets)), targets] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 60))
    best = min(grid, key=nll)
    fine = np.linspace(best / 1.15, best * 1.15, 21)
    return float(min(fine, key=nll))


def abstention(probabilities: np.ndarray, targets: Sequence[int], threshold: float) -> dict:
    """Answer only when confident: how many are answered, and how accurate those answers are."""
    probabilities = np.asarray(probabilities, dtype=float)
    answered = probabilities.max(axis=1) >= threshold
    correct = probabilities.argmax(axis=1) == np.asarray(targets)
    return {"threshold": threshold, "coverage": float(answered.mean()) if answered.size else float("nan"),
            "accuracy_answered": float(correct[answered].mean()) if answered.any() else float("nan"),
            "abstained": int((~answered).sum())}
