"""The dedup stage: which streamed records are kept, and which group (same split) each belongs to.

Exact duplicates, records with the same input (conflicts when the answers differ) and records sharing
`meta[group_field]` are linked while streaming; near-duplicates are found once at the end over all
signatures (vectorized LSH over band keys in RAM, confirmed on signatures read back from disk), then
dropped or linked. Linked records form groups that the
split keeps together. Records pinned to validation or test are never dropped here, not even as copies of
each other (a pinned split is the user's benchmark, used as given); `split.pinned_leaks` later drops the
records of other sources linked to them.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from tunesmith.config.data import DataConfig
from tunesmith.data.dedup import (
    UnionFind,
    fingerprint,
    near_duplicate_text,
    record_input,
    record_output,
    record_text,
    signatures,
)
from tunesmith.data.spill import Ids, RecordStore, SignatureStore
from tunesmith.data.split import HELD_OUT

_BLOCK = 2048
_NO_INPUT = bytes(16)  # stands for None in `inputs` (a real 128-bit digest of zeros is not a concern)


class Deduplicator:
    """Streams records in; keeps bodies, signatures and band keys on disk (see spill.py) and, per record
    in RAM, what dedup and split need: 16 bytes of store offset and label, 8 of group parent, 5 of pin
    and source, 32 of input/answer digests, plus an entry in each of two dicts (exact text, input; ~250
    bytes with their keys) that live until finish(). Use as a context manager (or call close()) so the
    spill files go away."""

    def __init__(self, config: DataConfig, counts: Counter, folder: Path | None = None,
                 link_documents: bool = False):
        """link_documents: embedding pairs sharing a document land in one split (embedding.split_by: document)."""
        self.config, self.counts = config, counts
        self.link_documents = link_documents
        self._pairs_seen = False  # embedding pairs: near-duplicate queries are linked, never dropped
        self._by_document: dict[bytes, int] = {}
        self.near = config.near_duplicates != "off"
        self.store = RecordStore(folder)
        self._signatures = SignatureStore(config.near_duplicate_threshold, folder) if self.near else None
        self._pin_codes: dict[str | None, int] = {None: 0}
        self._pin_names: list[str | None] = [None]
        self._pins = array("B")
        self.sources = array("I")
        self._inputs = bytearray()  # 16-byte input digest per record
        self._outputs = bytearray()  # 16-byte answer (or label) digest per record
        self.groups = UnionFind()
        self.conflicted: set[int] = set()
        self.conflict_examples: list[dict] = []  # a few, for the report
        self.clusters: dict[int, list[int]] = defaultdict(list)  # kept position -> dropped near-duplicate positions
        self.pairs = np.empty((0, 2), dtype=np.int64)  # verified near-duplicate positions (i < j)
        self.pair_similarity = np.empty(0)
        self._exact: dict[bytes, int] = {}
        self._by_input: dict[bytes, int] = {}
        self._by_group: dict[str, int] = {}
        self._pending: list[tuple[dict, str | None, int]] = []

    def __enter__(self) -> Deduplicator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()
        if self._signatures is not None:
            self._signatures.close()

    def pin(self, position: int) -> str | None:
        return self._pin_names[self._pins[position]]

    def input_key(self, position: int) -> bytes | None:
        key = bytes(self._inputs[position * 16:(position + 1) * 16])
        return None if key == _NO_INPUT else key

    def output_key(self, position: int) -> bytes | None:
        key = bytes(self._outputs[position * 16:(position + 1) * 16])
        return None if key == _NO_INPUT else key

    def _droppable(self, position: int) -> bool:
        """Records pinned to validation or test stay, whatever they duplicate."""
        return self._pin_names[self._pins[position]] not in HELD_OUT

    def ids_of(self, positions: list[int]) -> Ids:
        return Ids(self.store, positions)

    def add(self, record: dict, pin: str | None, source: int) -> None:
        self._pending.append((record, pin, source))
        if len(self._pending) >= _BLOCK:
            self._flush()

    def _flush(self) -> None:
        block, self._pending = self._pending, []
        kept_texts = [near_duplicate_text(record) for record, pin, source in block
                      if self._link(record, record_text(record), pin, source)]
        if self.near and kept_texts:
            self._signatures.append(signatures(kept_texts))

    def _link(self, record: dict, text: str, pin: str | None, source: int) -> bool:
        """Exact-duplicate, same-input and same-group links; False when the record is dropped."""
        exact = fingerprint(text + "\n" + record.get("label", ""))
        pin_code = self._pin_codes.setdefault(pin, len(self._pin_codes))
        if pin_code == len(self._pin_names):
            self._pin_names.append(pin)
        links: list[int] = []
        if exact in self._exact:
            self.counts["exact_duplicates"] += 1
            if (self.config.exact_duplicates == "drop" and self._pins[self._exact[exact]] == pin_code
                    and pin not in HELD_OUT):
                self.counts["dropped_exact_duplicates"] += 1
                return False
            links.append(self._exact[exact])
        index = self.groups.add()
        raw_input = record_input(record)
        input_key = fingerprint(raw_input) if raw_input is not None else _NO_INPUT
        output_key = fingerprint(record_output(record)) if raw_input is not None else _NO_INPUT
        if raw_input is not None:
            other = self._by_input.setdefault(input_key, index)
            links.append(other)
            if self._outputs[other * 16:(other + 1) * 16] != output_key and other != index:
                self.conflicted.update((other, index))
                if len(self.conflict_examples) < 20:
                    self.conflict_examples.append({"ids": [self.store.ids[other], record["id"]],
                                                   "input": raw_input[:200]})
        if "query" in record:
            self._pairs_seen = True
            if self.link_documents:
                links.append(self._by_document.setdefault(fingerprint(record["positive"]), index))
        group = record.get("meta", {}).get(self.config.group_field)
        if isinstance(group, (str, int)) and not isinstance(group, bool):
            links.append(self._by_group.setdefault(str(group), index))
        self._exact.setdefault(exact, index)
        for other in links:
            self.groups.union(index, other)
        self.store.append(record)
        self._pins.append(pin_code)
        self.sources.append(source)
        self._inputs += input_key
        self._outputs += output_key
        return True

    def finish(self) -> list[int]:
        """Find near-duplicates, then return the positions of the records to keep."""
        self._flush()
        # only streaming needs them: free for the split
        self._exact, self._by_input, self._by_group, self._by_document = {}, {}, {}, {}
        alive = np.ones(len(self.store), dtype=bool)
        if self.near and len(self.store) > 1:
            self._near_duplicates(alive)
        if self._signatures is not None:
            self._signatures.close()  # the pairs are found: nothing reads the signatures again
        self.counts["conflicting_duplicates"] = len(self.conflicted)
        if self.config.conflicts == "drop":
            dropped = [i for i in sorted(self.conflicted) if self._droppable(i)]
            self.counts["dropped_conflicts"] = len(dropped)
            alive[dropped] = False
        return np.nonzero(alive)[0].tolist()

    def _near_duplicates(self, alive: np.ndarray) -> None:
        pairs, similar = self._signatures.pairs()
        # A near-duplicate embedding query (one query, several documents; a reworded query) is a training
        # pair of its own: it is linked so that it lands in its query's split, never dropped.
        drop = self.config.near_duplicates == "drop" and not self._pairs_seen
        for first, second in pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))].tolist():
            if not (alive[first] and alive[second]):
                continue
            if (drop and self._pins[first] == self._pins[second] and second not in self.conflicted
                    and self._droppable(second)):
                alive[second] = False
                self.counts["dropped_near_duplicates"] += 1
                self.clusters[self.groups.find(first)].append(second)
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
                 "dropped": len(dropped), "examples": [self.store.ids[i] for i in dropped[:5]],
                 "dropped_texts": [record_text(self.store.get(i))[:200] for i in dropped[:3]]}
                for kept, dropped in biggest]
