"""The dedup stage: decides per streamed record whether it is kept, and which group it belongs to.

Exact duplicates, records with the same input (conflicts when the answers differ) and near-duplicates
are unioned into groups, so the split can keep each group in one split. Records are processed in
blocks so signatures are computed vectorized.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from tunesmith.config.data import DataConfig
from tunesmith.data.dedup import (
    NearDuplicateIndex,
    UnionFind,
    fingerprint,
    record_input,
    record_output,
    record_text,
    signatures,
)


class Deduplicator:
    def __init__(self, config: DataConfig, counts: Counter):
        self.config, self.counts = config, counts
        self.records: list[dict] = []
        self.pins: list[str | None] = []
        self.sources: list[int] = []
        self.inputs: list[bytes | None] = []
        self.groups = UnionFind()
        self._exact: dict[bytes, int] = {}
        self._by_input: dict[bytes, tuple[int, bytes]] = {}
        self._by_group: dict[str, int] = {}
        self.conflicted: set[int] = set()
        self.near = None if config.near_duplicates == "off" else NearDuplicateIndex(config.near_duplicate_threshold)
        self.clusters: dict[int, list[str]] = defaultdict(list)  # kept index -> dropped near-duplicate ids
        self._pending: list[tuple[dict, str | None, int]] = []

    def add(self, record: dict, pin: str | None, source: int) -> None:
        self._pending.append((record, pin, source))
        if len(self._pending) >= 1024:
            self.flush()

    def flush(self) -> None:
        block, self._pending = self._pending, []
        if not block:
            return
        texts = [record_text(record) for record, _, _ in block]
        block_signatures = signatures(texts) if self.near is not None else [None] * len(block)
        for (record, pin, source), text, signature in zip(block, texts, block_signatures, strict=True):
            self._decide(record, pin, source, text, signature)

    def _decide(self, record: dict, pin: str | None, source: int, text: str, signature) -> None:
        exact = fingerprint(text + "\n" + record.get("label", ""))
        links: list[int] = []
        if exact in self._exact:
            self.counts["exact_duplicates"] += 1
            if self.config.exact_duplicates == "drop" and self.pins[self._exact[exact]] == pin:
                self.counts["dropped_exact_duplicates"] += 1
                return
            links.append(self._exact[exact])
        raw_input = record_input(record)
        input_key = fingerprint(raw_input) if raw_input is not None else None
        output_key = fingerprint(record_output(record))
        conflict_with = None
        if input_key is not None and input_key in self._by_input:
            other, other_output = self._by_input[input_key]
            links.append(other)
            if other_output != output_key:
                conflict_with = other  # same input, different answer: never merged away as a near-duplicate
        if self.near is not None and not links:
            matches = self.near.matches(signature)
            if matches:
                self.counts["near_duplicates"] += 1
                first = min(matches)
                if self.config.near_duplicates == "drop" and self.pins[first] == pin:
                    self.counts["dropped_near_duplicates"] += 1
                    self.clusters[self.groups.find(first)].append(record["id"])
                    return
                links.extend(matches)
        index = self.groups.add()
        if conflict_with is not None:
            self.conflicted.update((conflict_with, index))
        if input_key is not None:
            self._by_input.setdefault(input_key, (index, output_key))
        group = record.get("meta", {}).get(self.config.group_field)
        if isinstance(group, (str, int)) and not isinstance(group, bool):
            links.append(self._by_group.setdefault(str(group), index))
        self._exact.setdefault(exact, index)
        for other in links:
            self.groups.union(index, other)
        if self.near is not None:
            self.near.add(index, signature)
        self.records.append(record)
        self.pins.append(pin)
        self.sources.append(source)
        self.inputs.append(input_key)

    def finish(self) -> list[int]:
        """Flush, then the indices of records to keep (conflicts dropped if so configured)."""
        self.flush()
        self.counts["conflicting_duplicates"] = len(self.conflicted)
        if self.config.conflicts == "drop":
            self.counts["dropped_conflicts"] = len(self.conflicted)
            return [i for i in range(len(self.records)) if i not in self.conflicted]
        return list(range(len(self.records)))

    def signature_matrix(self, keep: list[int]) -> np.ndarray | None:
        if self.near is None or not keep:
            return None
        return self.near.matrix()[np.asarray(keep, dtype=np.int64)]  # index keys are record positions

    def top_clusters(self, limit: int = 10) -> list[dict]:
        """The largest groups of near-duplicates that were dropped, for the report."""
        biggest = sorted(self.clusters.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
        return [{"kept": self.records[kept]["id"], "text": record_text(self.records[kept])[:200],
                 "dropped": len(dropped), "examples": dropped[:5]} for kept, dropped in biggest]
