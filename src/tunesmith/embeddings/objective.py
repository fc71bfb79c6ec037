"""Embedding training on the one loop: (query, positive[, negative]) or scored pairs → examples → summed loss.

`objectives.runtime.for_config` returns `EmbeddingObjective` when objective.task is embedding; the loop
calls its `encode`, `collate`, `loss_sum` and `metrics` like any objective's. Each text of a pair is
encoded alone (as at serving time); the loss compares pooled embeddings (losses.py). A micro-batch larger
than embedding.cache_batch_size trains with GradCache, so in-batch negatives are not bounded by memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.errors import DataError

if TYPE_CHECKING:
    import torch

    from tunesmith.config.embedding import EmbeddingConfig

COLUMNS = ("query", "positive", "negative")


@dataclass
class EmbeddingExample:
    query: list[int]
    positive: list[int]
    negative: list[int] | None = None
    score: float | None = None
    positive_key: int = 0  # which document (a hash of its text): another row's copy is not a negative
    negative_key: int = 0
    targets: int = 1  # the loop divides the summed loss by the step's example count

    def __len__(self) -> int:
        return max(len(self.query), len(self.positive), len(self.negative or ()))


def text_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "little")


def resolve_loss(settings: EmbeddingConfig, records: Sequence[dict]) -> str:
    """The loss the data and settings call for; data that does not fit it is one error."""
    scored = sum(r.get("score") is not None for r in records)
    if scored and scored != len(records):
        raise DataError(f"{scored} of {len(records)} embedding records have a score and the others do not",
                        "Train on one kind: (query, positive[, negative]) pairs, or (sentence1, sentence2, score).")
    loss = settings.loss if settings.loss != "auto" else ("cosent" if scored else "mnrl")
    if loss == "mnrl" and scored:
        raise DataError("embedding.loss is mnrl but the data are scored sentence pairs",
                        "Set embedding.loss: cosent (or cosine, or auto) for (sentence1, sentence2, score) data.")
    if loss in ("cosent", "cosine") and records and not scored:
        raise DataError(f"embedding.loss is {loss} but the records have no score",
                        "Set embedding.loss: mnrl (or auto) for (query, positive) data.")
    return loss


def _pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = 1
    return ids, mask


@dataclass
class EmbeddingObjective:
    settings: EmbeddingConfig
    pooling: str = "mean"
    max_length: int = 256
    name: str = "embedding"
    loss: str | None = None  # resolved from the training data by the first encode()

    def encode(self, tokenizer, records, task, max_length, labels=None, train_on_prompt=False):
        if task != "embedding":
            raise DataError(f"the embedding objective needs embedding pairs (objective.task is {task})",
                            "Set objective.task: embedding.")
        if not records:
            return []
        loss = resolve_loss(self.settings, records)
        self.loss = self.loss or loss
        length = min(max_length, self.max_length)
        ids = {c: tokenizer([r.get(c) or "" for r in records], truncation=True, max_length=length)["input_ids"]
               for c in COLUMNS}
        return [EmbeddingExample(ids["query"][i], ids["positive"][i],
                                 ids["negative"][i] if r.get("negative") else None,
                                 float(r["score"]) if r.get("score") is not None else None,
                                 text_key(r["positive"]), text_key(r["negative"]) if r.get("negative") else 0)
                for i, r in enumerate(records)]

    def collate(self, examples, pad_id, classification=False):
        import torch

        batch = {}
        for prefix, rows in (("q_", [e.query for e in examples]), ("p_", [e.positive for e in examples]),
                             ("n_", [e.negative for e in examples if e.negative is not None])):
            if rows:
                batch[f"{prefix}input_ids"], batch[f"{prefix}attention_mask"] = _pad(rows, pad_id)
        keys = [e.positive_key for e in examples] + [e.negative_key for e in examples if e.negative is not None]
        batch["keys"] = torch.tensor(keys, dtype=torch.long)
        if all(e.score is not None for e in examples):
            batch["score"] = torch.tensor([e.score for e in examples], dtype=torch.float32)
        return batch

    def loss_sum(self, model, batch, task, virtual_tokens):
        import torch

        from tunesmith.embeddings.encoder import embed_tokens
        from tunesmith.embeddings.losses import (
            cached_loss,
            cos_sim,
            cosent_loss_sum,
            cosine_loss_sum,
            embed_chunked,
            matryoshka,
            ranking_loss_sum,
        )

        settings = self.settings
        loss_name = self.loss or ("cosent" if "score" in batch else "mnrl")
        columns = [(batch[f"{p}input_ids"], batch[f"{p}attention_mask"]) for p in ("q_", "p_", "n_")
                   if f"{p}input_ids" in batch]
        rows = len(columns[0][0])
        keys = batch["keys"]
        # a candidate that is query i's own document under another row is not a negative for query i
        excluded = (keys[None, :] == keys[:rows, None]) & ~torch.eye(rows, len(keys), dtype=torch.bool,
                                                                        device=keys.device)

        def one_loss(reps: list[torch.Tensor]) -> torch.Tensor:
            if loss_name == "mnrl":
                return ranking_loss_sum(reps[0], reps[1], reps[2] if len(reps) > 2 else None, settings.scale,
                                        excluded)
            if loss_name == "cosent":
                return cosent_loss_sum(reps[0], reps[1], batch["score"], settings.scale)
            return cosine_loss_sum(reps[0], reps[1], batch["score"])

        def total(reps: list[torch.Tensor]) -> torch.Tensor:
            return matryoshka(one_loss, reps, settings.matryoshka_dims)

        def embed(ids, mask):
            return embed_tokens(model, ids, mask, self.pooling, False)

        size = settings.cache_batch_size
        if torch.is_grad_enabled() and rows > size:
            return cached_loss(embed, columns, size, total), rows, {}
        reps = [embed_chunked(embed, ids, mask, size) for ids, mask in columns]
        value = total(reps)
        stats = {}
        if not torch.is_grad_enabled() and loss_name == "mnrl":  # validation: is the own document ranked first?
            candidates = torch.cat(reps[1:])
            scores = cos_sim(reps[0], candidates).masked_fill(excluded, float("-inf"))
            stats["correct"] = float((scores.argmax(dim=1) == torch.arange(rows, device=scores.device)).sum())
        return value, rows, stats

    def metrics(self, task: str, total: float, count: float, stats: dict) -> dict:
        result = {"val_loss": total / count if count else float("nan")}
        if "correct" in stats:  # in-batch top-1 accuracy of the validation queries
            result["val_accuracy"] = stats["correct"] / count if count else float("nan")
        return result


def objective_for(config) -> EmbeddingObjective:
    from tunesmith.embeddings.encoder import resolve_pooling
    from tunesmith.embeddings.load import folder_max_length
    from tunesmith.models.catalog import resolve

    folder = resolve(config.model.name, trust_remote_code=config.model.trust_remote_code).path
    return EmbeddingObjective(config.embedding, resolve_pooling(config.embedding.pooling, folder),
                              folder_max_length(folder, config.model.max_length))
