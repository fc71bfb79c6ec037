"""Batched text classification for classifier runs (runs on the engine thread)."""

from __future__ import annotations

import torch


@torch.inference_mode()
def classify(loaded, texts: list[str], batch_size: int = 32) -> list[dict]:
    labels = loaded.labels or [str(i) for i in range(loaded.model.config.num_labels)]
    results: list[dict] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start: start + batch_size]
        enc = loaded.tokenizer(chunk, return_tensors="pt", padding=True, truncation=True,
                               max_length=min(loaded.context_length, 512))
        with loaded.activate():
            probs = torch.softmax(loaded.model(**enc).logits.float(), dim=-1)
        for offset, row in enumerate(probs):
            best = int(torch.argmax(row))
            results.append({"index": start + offset, "label": labels[best], "score": float(row[best]),
                            "scores": {label: float(p) for label, p in zip(labels, row, strict=False)}})
    return results
