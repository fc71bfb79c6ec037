"""Retrieval evaluation: held-out queries against the whole corpus, per-query recall@k, MRR@10 and nDCG@10.

Contenders rank the corpus for each query: BM25 (bm25s; the baseline a user would try first, no model at
all), the base encoder and each fine-tuned run (cosine similarity of embeddings). Per-query scores go into
the same `ContenderResult` the other tasks use, so intervals, paired tests, the verdict and the report
are shared (evaluate/summary.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.evaluate.contenders import ContenderResult

CUTOFFS = (1, 5, 10)
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
DEPTH = 10  # documents ranked per query: the deepest cutoff any metric reads

Ranker = Callable[[Sequence[str], Sequence[str], int], np.ndarray]  # (queries, documents, k) -> (n_q, k) indices


@dataclass
class RetrievalSet:
    """Held-out queries, the corpus they search, and which documents answer each (document index → grade)."""

    queries: list[str]
    documents: list[str]
    relevant: list[dict[int, float]]
    query_ids: list[str] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.relevant) != len(self.queries):
            raise ValueError("one relevance mapping per query")


def query_scores(ranked: Sequence[int], relevant: dict[int, float]) -> dict[str, float]:
    """Metrics of one ranked list (best first) against graded relevance (grade > 0 is relevant)."""
    positive = {doc for doc, grade in relevant.items() if grade > 0}
    if not positive:
        return dict.fromkeys(METRICS, float("nan"))
    scores = {f"recall@{k}": len(positive.intersection(ranked[:k])) / len(positive) for k in CUTOFFS}
    first = next((rank for rank, doc in enumerate(ranked[:10], 1) if doc in positive), None)
    scores["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum(relevant.get(doc, 0.0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:10], 1)
              if doc in positive)
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:10]
    scores["ndcg@10"] = dcg / sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    return scores


def per_query(ranked: np.ndarray, relevant: Sequence[dict[int, float]]) -> dict[str, list[float]]:
    rows = [query_scores(list(map(int, r)), rel) for r, rel in zip(ranked, relevant, strict=True)]
    return {metric: [row[metric] for row in rows] for metric in METRICS}


def top_k(query_vectors: np.ndarray, document_vectors: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Indices of the k highest dot products per query (ties: lower index first), in blocks of queries."""
    k = min(k, len(document_vectors))
    out = np.empty((len(query_vectors), k), dtype=np.int64)
    for start in range(0, len(query_vectors), block):
        scores = query_vectors[start:start + block] @ document_vectors.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
            np.tile(np.arange(scores.shape[1]), (len(scores), 1))
        picked = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -picked), axis=1)
        out[start:start + block] = np.take_along_axis(part, order, axis=1)
    return out


def bm25_ranker(queries: Sequence[str], documents: Sequence[str], k: int) -> np.ndarray:
    """BM25 (Lucene variant, k1=1.5, b=0.75) over lower-cased words with English stop words removed."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(list(documents), stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
    ranked, _ = retriever.retrieve(tokens, k=min(k, len(documents)), show_progress=False)
    return np.asarray(ranked, dtype=np.int64)


def encoder_ranker(encode: Callable[[Sequence[str]], np.ndarray]) -> Ranker:
    """Rank by cosine similarity of `encode` vectors (normalized here, whatever the encoder does)."""

    def rank(queries: Sequence[str], documents: Sequence[str], k: int) -> np.ndarray:
        docs, qs = encode(list(documents)), encode(list(queries))
        docs = docs / np.linalg.norm(docs, axis=1, keepdims=True).clip(min=1e-12)
        qs = qs / np.linalg.norm(qs, axis=1, keepdims=True).clip(min=1e-12)
        return top_k(qs, docs, k)

    return rank


@dataclass
class RetrievalContender:
    name: str
    rank: Ranker
    kind: str = "baseline"
    run_dir: Path | None = None


def score_retrieval(data: RetrievalSet, contender: RetrievalContender) -> ContenderResult:
    ranked = contender.rank(data.queries, data.documents, DEPTH)
    scores = per_query(ranked, data.relevant)
    outputs = [data.documents[int(r[0])] if len(r) else "" for r in ranked]  # the top document per query
    corpus = {metric: float(np.nanmean(values)) if values else float("nan") for metric, values in scores.items()}
    details = {"corpus_size": len(data.documents), "queries": len(data.queries),
               "top_ids": [[data.document_ids[int(i)] if data.document_ids else int(i) for i in r[:3]]
                           for r in ranked[:200]]}
    return ContenderResult(contender.name, contender.kind, outputs, scores, corpus, details, contender.run_dir)
