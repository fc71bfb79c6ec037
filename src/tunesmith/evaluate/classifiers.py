"""Classification contenders: a fine-tuned classifier run, and baselines that need no training.

Baselines: "majority class" (always the most common training label) and "base few-shot", which embeds
k training examples per class with the base encoder and picks the nearest class centroid.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.classification import (
    abstention,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.generation import progress_bar
from tunesmith.evaluate.items import ClassItem

Scorer = Callable[[Sequence[ClassItem]], np.ndarray]


@dataclass
class ClassifierContender:
    name: str
    logits: Scorer  # (n_items, n_labels) unnormalised scores
    labels: list[str]
    kind: str = "baseline"
    run_dir: Path | None = None
    calibrate: bool = True


def _encode(tokenizer, items: Sequence[ClassItem]):
    texts = [i.text for i in items]
    pairs = [i.text_pair or "" for i in items] if any(i.text_pair for i in items) else None
    return tokenizer(texts, pairs, return_tensors="pt", padding=True, truncation=True, max_length=512)


@torch.inference_mode()
def _batched(fn, items: Sequence[ClassItem], batch_size: int, label: str) -> np.ndarray:
    chunks = []
    with progress_bar(label, len(items)) as advance:
        for start in range(0, len(items), batch_size):
            chunk = items[start: start + batch_size]
            chunks.append(fn(chunk).float().numpy())
            advance(len(chunk))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def model_classifier(name: str, model, tokenizer, labels: Sequence[str], settings: EvaluationConfig, *,
                     kind: str = "run", run_dir: Path | None = None) -> ClassifierContender:
    model.eval()

    def logits(items: Sequence[ClassItem]) -> np.ndarray:
        return _batched(lambda chunk: model(**_encode(tokenizer, chunk)).logits, items, settings.batch_size,
                        f"{name}: classifying")

    return ClassifierContender(name, logits, list(labels), kind, run_dir, settings.calibrate)


def majority_classifier(train: Sequence[ClassItem], labels: Sequence[str]) -> ClassifierContender:
    counts = Counter(item.label for item in train)
    scores = np.log(np.array([counts.get(label, 0) for label in labels], dtype=float) + 1e-6)
    return ClassifierContender("majority class", lambda items: np.tile(scores, (len(items), 1)), list(labels),
                               calibrate=False)


def centroid_classifier(encoder, tokenizer, train: Sequence[ClassItem], labels: Sequence[str],
                        settings: EvaluationConfig) -> ClassifierContender:
    """The base encoder with k labelled examples per class: cosine similarity to each class centroid."""
    encoder.eval()
    rng = random.Random(settings.seed)
    k = max(settings.few_shot_k, 1)

    def embed(chunk: Sequence[ClassItem]) -> torch.Tensor:
        enc = _encode(tokenizer, chunk)
        hidden = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)

    shots = [item for label in labels
             for item in rng.sample([i for i in train if i.label == label],
                                    min(k, sum(i.label == label for i in train)))]
    shot_vectors = _batched(embed, shots, settings.batch_size, "base few-shot: embedding examples")
    centroids = np.stack([shot_vectors[[i for i, s in enumerate(shots) if s.label == label]].mean(0)
                          if any(s.label == label for s in shots) else np.zeros(shot_vectors.shape[1])
                          for label in labels])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(min=1e-9)

    def logits(items: Sequence[ClassItem]) -> np.ndarray:
        vectors = _batched(embed, items, settings.batch_size, "base few-shot: classifying")
        return vectors @ centroids.T * 20.0  # cosine similarity, sharpened; calibration refits the scale

    return ClassifierContender(f"base few-shot (k={k} per class)", logits, list(labels))


def score_classification(items: Sequence[ClassItem], contender: ClassifierContender, settings: EvaluationConfig,
                         validation: Sequence[ClassItem] = ()) -> ContenderResult:
    """Predict every item; per-item correctness plus the scikit-learn report, calibration and abstention."""
    labels = contender.labels
    index = {label: i for i, label in enumerate(labels)}
    logits = contender.logits(items)
    predictions = [labels[i] for i in logits.argmax(axis=1)]
    references = [item.label for item in items]
    report = classification_report(references, predictions, labels)
    details: dict = {"per_class": report["per_class"], "labels": report["labels"],
                     "confusion_matrix": report["confusion_matrix"]}
    known = [i for i, item in enumerate(items) if item.label in index]
    targets = np.array([index[items[i].label] for i in known], dtype=int)
    temperature = 1.0
    held = [v for v in validation if v.label in index]
    if contender.calibrate and settings.calibrate and held:
        temperature = fit_temperature(contender.logits(held), [index[v.label] for v in held])
    probabilities = softmax(logits, temperature) if logits.size else logits
    confidence = probabilities.max(axis=1) if probabilities.size else np.zeros(0)
    details["calibration"] = {
        "temperature": temperature, "fitted_on": "validation" if temperature != 1.0 else None,
        "ece_before": expected_calibration_error(softmax(logits)[known], targets) if known else float("nan"),
        "ece_after": expected_calibration_error(probabilities[known], targets) if known else float("nan")}
    if settings.abstain_below is not None and known:
        details["abstain"] = abstention(probabilities[known], targets, settings.abstain_below)
    per_item = {"accuracy": [float(p == r) for p, r in zip(predictions, references, strict=True)],
                "confidence": [float(c) for c in confidence]}
    return ContenderResult(contender.name, contender.kind, predictions, per_item, report["summary"], details,
                           contender.run_dir)
