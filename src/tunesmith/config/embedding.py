"""Embedding fine-tuning (objective.task: embedding): pooling, loss, in-batch negatives, Matryoshka, mining."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tunesmith.config.base import Section


class EmbeddingConfig(Section):
    loss: Literal["auto", "mnrl", "cosine", "cosent"] = Field(
        "auto", description="auto: mnrl for (query, document[, negatives]) data, cosent for scored pairs; mnrl: "
        "multiple-negatives ranking (every other document in the batch is a negative); cosine: squared error "
        "between cosine similarity and the score; cosent: ranks pairs by score (scored pairs).")
    scale: float = Field(20.0, gt=0, description="Similarity scale of mnrl and cosent (1 / temperature).")
    cache_batch_size: int = Field(
        32, ge=1, description="Texts encoded at once while training. When training.batch_size is larger, "
        "mnrl caches embeddings and gradients (GradCache), so the batch of in-batch negatives can grow "
        "without more activation memory.")
    matryoshka_dims: list[int] = Field(
        default_factory=list, description="Also train truncated embeddings of these sizes (Matryoshka), e.g. "
        "[384, 256, 128, 64]; the server then honours `dimensions`. Empty: off.")
    pooling: Literal["auto", "mean", "cls", "max"] = Field(
        "auto", description="How token vectors become one vector; auto reads the base model's "
        "sentence-transformers pooling config (mean when it has none).")
    normalize: bool = Field(True, description="Unit-length embeddings (cosine similarity = dot product).")
    split_by: Literal["query", "document"] = Field(
        "query", description="query: records sharing a query (or a near-duplicate of it) stay in one split, so no "
        "held-out query is trained on, while its document may be trained on with other queries (a fixed "
        "corpus, new questions); document: records sharing a document stay in one split too (new documents).")
    hard_negatives: int = Field(
        0, ge=0, le=16, description="`data prepare`: add this many hard negatives per training query, mined "
        "with the base model from the corpus (the query's own documents are skipped). 0: off.")
    mining_skip_top: int = Field(
        0, ge=0, description="Skip this many highest-ranked non-relevant documents when mining (they are often "
        "unlabelled positives).")
    eval_batch_size: int = Field(64, ge=1, description="Texts encoded at once when evaluating and mining.")

    @field_validator("matryoshka_dims")
    @classmethod
    def _descending(cls, dims: list[int]) -> list[int]:
        if any(d < 1 for d in dims):
            raise ValueError("matryoshka_dims must be positive sizes, e.g. [384, 256, 128, 64]")
        if len(set(dims)) != len(dims):
            raise ValueError("matryoshka_dims lists a size twice")
        return sorted(dims, reverse=True)
