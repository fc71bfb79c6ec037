"""The dedup stage: which streamed records are kept, and which group (same split) each belongs to.

Exact duplicates, records with the same input (conflicts when the answers differ) and records sharing
`meta[group_field]` are linked while streaming; near-duplicates are found once at the end over the
whole signature matrix (vectorized LSH), then dropped or linked. Linked records form groups that the
split keeps together.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import orjson

from tunesmith.config.data import DataConfig
from tunesmith.data.dedup import (
    NUM_PERM,
    UnionFind,
    fingerprint,
    near_duplicate_pairs,
    record_input,
    record_output,
    record_text,
    signatures,
)

_BLOCK = 2048


class RecordStore:
    """Kept records as compact JSON bytes (~5x smaller than dicts), plus the fields the split needs."""

    def __init__(self):
        self.blobs: list[bytes] = []
        self.ids: list[str] = []
        self.labels: list[str | None] = []
        self.chars: list[int] = []

    def __len__(self) -> int:
        return len(self.blobs)

    def append(self, record: dict, text: str) -> None:
        self.blobs.append(memoryview(orjson.dumps(record)).tobytes())  # orjson's buffer is 4 KiB: copy to size
        self.ids.append(record["id"])
        self.labels.append(record.get("label"))
        self.chars.append(len(text))

    def get(self, position: int) -> dict:
        return orjson.loads(self.blobs[position])


class Deduplicator:
    def __init__(self, config: DataConfig, counts: Counter):
        self.config, self.counts = config, counts
        self.store = RecordStore()
        self.pins: list[str | None] = []
        self.sources: list[int] = []
        self.inputs: list[bytes | None] = []
        self.groups = UnionFind()
        self.conflicted: set[int] = set()
        self.conflict_examples: list[dict] = []  # a few, for the report
        self.near = config.near_duplicates != "off"
        self.clusters: dict[int, list[str]] = defaultdict(list)  # kept position -> dropped near-duplicate ids
        self.pairs = np.empty((0, 2), dtype=np.int64)  # verified near-duplicate positions (i < j)
        self.pair_similarity = np.empty(0)
        self._exact: dict[bytes, int] = {}
        self._by_input: dict[bytes, tuple[int, bytes]] = {}
        self._by_group: dict[str, int] = {}
        self._pending: list[tuple[dict, str | None, int]] = []
        self._signatures = np.empty((_BLOCK if self.near else 0, NUM_PERM), dtype=np.uint32)

    def add(self, record: dict, pin: str | None, source: int) -> None:
        self._pending.append((record, pin, source))
        if len(self._pending) >= _BLOCK:
            self._flush()

    def _flush(self) -> None:
        block, self._pending = self._pending, []
        kept_texts = []
        for record, pin, source in block:
            text = record_text(record)
            if self._link(record, text, pin, source):
                kept_texts.append(text)
        if self.near and kept_texts:
            end = len(self.store)
            while len(self._signatures) < end:
                self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
            self._signatures[end - len(kept_texts):end] = signatures(kept_texts)

    def _link(self, record: dict, text: str, pin: str | None, source: int) -> bool:
        """Exact-duplicate, same-input and same-group links; False when the record is dropped."""
        exact = fingerprint(text + "\n" + record.get("label", ""))
        links: list[int] = []
        if exact in self._exact:
            self.counts["exact_duplicates"] += 1
            if self.config.exact_duplicates == "drop" and self.pins[self._exact[exact]] == pin:
                self.counts["dropped_exact_duplicates"] += 1
                return False
            links.append(self._exact[exact])
        index = self.groups.add()
        raw_input = record_input(record)
        input_key = fingerprint(raw_input) if raw_input is not None else None
        if input_key is not None:
            output_key = fingerprint(record_output(record))
            other, other_output = self._by_input.setdefault(input_key, (index, output_key))
            links.append(other)
            if other_output != output_key:
                self.conflicted.update((other, index))
                if len(self.conflict_examples) < 20:
                    self.conflict_examples.append({"ids": [self.store.ids[other], record["id"]],
                                                   "input": raw_input[:200]})
        group = record.get("meta", {}).get(self.config.group_field)
        if isinstance(group, (str, int)) and not isinstance(group, bool):
            links.append(self._by_group.setdefault(str(group), index))
        self._exact.setdefault(exact, index)
        for other in links:
            self.groups.union(index, other)
        self.store.append(record, text)
        self.pins.append(pin)
        self.sources.append(source)
        self.inputs.append(input_key)
        return True

    def finish(self) -> list[int]:
        """Find near-duplicates, then return the positions of the records to keep."""
        self._flush()
        alive = np.ones(len(self.store), dtype=bool)
        if self.near and len(self.store) > 1:
            self._near_duplicates(alive)
        self.counts["conflicting_duplicates"] = len(self.conflicted)
        if self.config.conflicts == "drop":
            self.counts["dropped_conflicts"] = len(self.conflicted)
            alive[list(self.conflicted)] = False
        return np.nonzero(alive)[0].tolist()

    def _near_duplicates(self, alive: np.ndarray) -> None:
        pairs, similar = near_duplicate_pairs(self._signatures[:len(self.store)],
                                              self.config.near_duplicate_threshold)
        drop = self.config.near_duplicates == "drop"
        for first, second in pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))].tolist():
            if not (alive[first] and alive[second]):
                continue
            if drop and self.pins[first] == self.pins[second] and second not in self.conflicted:
                alive[second] = False
                self.counts["dropped_near_duplicates"] += 1
                self.clusters[self.groups.find(first)].append(self.store.ids[second])
            else:
                self.groups.union(first, second)
        near_records = set(pairs[:, 1].tolist())
        self.counts["near_duplicates"] = len(near_records)
        both_alive = alive[pairs[:, 0]] & alive[pairs[:, 1]] if len(pairs) else np.empty(0, dtype=bool)
        self.pairs, self.pair_similarity = pairs[both_alive], similar[both_alive]

    def pairs_among(self, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Near-duplicate pairs re-indexed to positions in `keep` (pairs with a dropped record vanish)."""
        remap = np.full(len(self.store), -1, dtype=np.int64)
        remap[np.asarray(keep, dtype=np.int64)] = np.arange(len(keep))
        mapped = remap[self.pairs] if len(self.pairs) else np.empty((0, 2), dtype=np.int64)
        valid = (mapped >= 0).all(axis=1) if len(mapped) else np.empty(0, dtype=bool)
        return mapped[valid], self.pair_similarity[valid]

    def top_clusters(self, limit: int = 10) -> list[dict]:
        """The largest groups of near-duplicates that were dropped, for the report."""
        biggest = sorted(self.clusters.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
        return [{"kept": self.store.ids[kept], "text": record_text(self.store.get(kept))[:200],
                 "dropped": len(dropped), "examples": dropped[:5]} for kept, dropped in biggest]
