"""Hard negatives for `data prepare` (embedding.hard_negatives): documents the base model ranks high for a
training query that are not among its positives, one (query, positive, negative) record per negative, as
sentence-transformers' `mine_hard_negatives(output_format="triplet")` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tunesmith.evaluate.retrieval import top_k


def mine_hard_negatives(records: Sequence[dict], corpus: Sequence[str],
                        encode: Callable[[list[str]], np.ndarray], count: int, skip_top: int = 0) -> list[dict]:
    """Each record without a negative becomes up to `count` records, each with one mined negative (the
    highest-ranked non-positive documents after skipping `skip_top` of them); records that already have a
    negative, and scored pairs, are kept as given."""
    positives: dict[str, set[str]] = {}
    for record in records:
        positives.setdefault(record["query"], set()).add(record["positive"])
    queries = list(positives)
    if not queries or not corpus or count < 1:
        return list(records)
    widest = max(len(p) for p in positives.values())
    ranked = top_k(_unit(encode(queries)), _unit(encode(list(corpus))), count + skip_top + widest)
    mined = {q: [corpus[int(i)] for i in row if corpus[int(i)] not in positives[q]][skip_top:skip_top + count]
             for q, row in zip(queries, ranked, strict=True)}
    out: list[dict] = []
    for record in records:
        found = mined[record["query"]] if not record.get("negative") and record.get("score") is None else []
        if not found:
            out.append(record)
        for k, negative in enumerate(found):
            out.append({**record, "negative": negative, "id": f"{record['id']}#n{k + 1}" if k else record["id"]})
    return out


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
