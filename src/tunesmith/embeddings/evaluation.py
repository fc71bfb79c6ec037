"""`tunesmith eval` for embedding projects: the held-out queries search the whole corpus.

The corpus is every distinct document of the dataset (positives and negatives of all splits: a held-out
query's document may well have been trained on with other queries, as in a fixed FAQ). Each held-out query
is scored by where its own documents rank (evaluate/retrieval.py) for BM25, the base encoder and each run;
the results go into the same comparison (intervals, paired tests, verdict, report) as every other task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import DataError
from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.retrieval import (
    RetrievalContender,
    RetrievalSet,
    bm25_ranker,
    encoder_ranker,
    score_retrieval,
)


@dataclass
class QueryItem:
    """One held-out query, shown in the report beside the document that answers it."""

    id: str
    text: str
    reference: str


def corpus_of(splits: Sequence[Sequence[dict]]) -> list[str]:
    """Every distinct document, in first-seen order."""
    seen: dict[str, None] = {}
    for records in splits:
        for record in records:
            for key in ("positive", "negative"):
                if record.get(key):
                    seen.setdefault(record[key], None)
    return list(seen)


def retrieval_set(held_out: Sequence[dict], corpus: Sequence[str], limit: int | None = None
                  ) -> tuple[RetrievalSet, list[QueryItem]]:
    """Queries of the held-out records (one per distinct query, all its positives relevant) against `corpus`."""
    if any(r.get("score") is not None for r in held_out):
        raise DataError("retrieval evaluation needs (query, positive) pairs; these records are scored sentence "
                        "pairs", "Evaluate on a dataset of queries and the documents that answer them.")
    index = {doc: i for i, doc in enumerate(corpus)}
    queries: dict[str, tuple[str, dict[int, float], str]] = {}
    for record in held_out:
        _, relevant, _ = queries.setdefault(record["query"], (record.get("id", ""), {}, record["positive"]))
        relevant[index[record["positive"]]] = 1.0
    chosen = list(queries.items())[:limit] if limit else list(queries.items())
    data = RetrievalSet([q for q, _ in chosen], list(corpus), [rel for _, (_, rel, _) in chosen],
                        [str(i) for _, (i, _, _) in chosen])
    items = [QueryItem(str(i), q, ref) for q, (i, _, ref) in chosen]
    return data, items


def _contenders(project, run_dirs: Sequence[Path], baselines: bool):
    """Built lazily, so one encoder is in memory at a time."""
    from tunesmith.embeddings.load import base_encoder, load_embedder

    config = project.config
    batch = config.embedding.eval_batch_size
    if baselines:
        yield RetrievalContender("BM25", bm25_ranker)
        encoder = base_encoder(config.model.name, trust_remote_code=config.model.trust_remote_code,
                               max_length=config.model.max_length, pooling=config.embedding.pooling)
        yield RetrievalContender("base encoder", encoder_ranker(lambda texts: encoder.encode(texts, batch)))
    for run_dir in run_dirs:
        run = load_embedder(run_dir)
        yield RetrievalContender(Path(run_dir).name, encoder_ranker(lambda texts, e=run: e.encode(texts, batch)),
                                 "run", Path(run_dir))


def score_embedding_contenders(project, dataset, held_out: list[dict], run_dirs: Sequence[Path], baselines: bool,
                               split: str) -> tuple[list[QueryItem], list[ContenderResult]]:
    from tunesmith.evaluate.compare import split_records
    from tunesmith.evaluate.items import require_items

    corpus = corpus_of([split_records(dataset, name) for name in ("train", "validation", "test")] + [held_out])
    data, items = retrieval_set(held_out, corpus, project.config.evaluation.max_examples)
    require_items(items, split)
    return items, [score_retrieval(data, contender) for contender in _contenders(project, run_dirs, baselines)]
