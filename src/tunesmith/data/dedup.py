"""Exact, near and conflicting duplicates.

Near-duplicates use MinHash signatures of character 5-grams and LSH banding. Signatures are computed
for a batch of texts at once with numpy (the affine-permutation scheme of datasketch's `affine32`):
datasketch's MinHash hashes each shingle in a Python loop, ~300 µs per record here, too slow for
100k-record datasets. LSH candidates are confirmed by the estimated Jaccard similarity.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

NUM_PERM = 64
NGRAM = 5
MAX_BYTES = 16_384  # longer texts are compared on their first 16 KiB
_SEED = 1
_NOT_WORD = re.compile(r"[\W_]+")


def record_text(record: dict) -> str:
    """All the text of a record, as compared for duplicates."""
    if "messages" in record:
        return "\n".join(f"{m['role']}: {m['content']}" for m in record["messages"])
    return record["text"] + ("\n" + record["text_pair"] if record.get("text_pair") else "")


def record_input(record: dict) -> str | None:
    """The part a model is given (everything before the last answer); None for raw text."""
    if "messages" in record:
        last = max(i for i, m in enumerate(record["messages"]) if m["role"] == "assistant")
        return "\n".join(f"{m['role']}: {m['content']}" for m in record["messages"][:last])
    if "label" in record:
        return record["text"] + ("\n" + record["text_pair"] if record.get("text_pair") else "")
    return None


def record_output(record: dict) -> str:
    if "messages" in record:
        return [m for m in record["messages"] if m["role"] == "assistant"][-1]["content"]
    return record.get("label", "")


def fingerprint(text: str) -> bytes:
    """Hash of a text with case and spacing ignored."""
    return hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=16).digest()


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(texts: list[str], num_perm: int = NUM_PERM, seed: int = _SEED,
               max_shingles: int = 32_768) -> np.ndarray:
    """MinHash signatures (len(texts) x num_perm, uint32) of normalized character 5-grams."""
    a, b = _permutations(num_perm, seed)
    encoded = [_NOT_WORD.sub(" ", t.lower()).strip().encode()[:MAX_BYTES].ljust(NGRAM) for t in texts]
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    start = 0
    while start < len(encoded):
        stop, total = start, 0
        while stop < len(encoded) and (stop == start or total + len(encoded[stop]) <= max_shingles):
            total += len(encoded[stop])
            stop += 1
        out[start:stop] = _block_signatures(encoded[start:stop], a, b)
        start = stop
    return out


def _block_signatures(encoded: list[bytes], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint32)
    width = len(buf) - NGRAM + 1
    rolled = np.zeros(width, dtype=np.uint32)
    for k in range(NGRAM):
        rolled = (rolled * np.uint32(16777619)) ^ buf[k:k + width]
    counts = lengths - NGRAM + 1
    text_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    segment_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    positions = np.repeat(text_starts - segment_starts, counts) + np.arange(counts.sum())
    hashed = _fmix32(rolled[positions])
    # (num_perm, shingles) keeps each reduction contiguous; blocks stay small enough for the CPU cache
    permuted = np.multiply.outer(a, hashed)
    permuted += b[:, None]
    return np.minimum.reduceat(permuted, segment_starts, axis=1).T


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(first == second)) / len(first)


def band_shape(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) that still make a pair at the
    threshold a candidate with probability ≥ `recall`; candidates are then confirmed by similarity."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


class NearDuplicateIndex:
    """LSH banding over MinHash signatures; `matches` returns keys whose estimated similarity ≥ threshold.

    datasketch's MinHashLSH costs ~12 µs per band per record here (bytes conversion and storage
    layers in Python); with the 12+ bands needed for 99 % recall at the threshold that alone would
    exceed the whole per-record budget, so bands are plain dicts keyed by slices of the signature bytes.
    """

    def __init__(self, threshold: float, num_perm: int = NUM_PERM):
        self.threshold = threshold
        self.bands, rows = band_shape(threshold, num_perm)
        self._width = rows * 4  # bytes per band (uint32 values)
        self.tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self.keys: list = []
        self._matrix = np.empty((1024, num_perm), dtype=np.uint32)  # row i: signature of keys[i]

    def _band_keys(self, signature: np.ndarray) -> list[bytes]:
        raw, width = signature.tobytes(), self._width
        return [raw[i * width:(i + 1) * width] for i in range(self.bands)]

    def add(self, key, signature: np.ndarray) -> None:
        position = len(self.keys)
        if position == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.empty_like(self._matrix)])
        self._matrix[position] = signature
        self.keys.append(key)
        for table, band in zip(self.tables, self._band_keys(signature), strict=True):
            bucket = table.get(band)
            if bucket is None:
                table[band] = [position]
            else:
                bucket.append(position)

    def matches(self, signature: np.ndarray) -> list:
        candidates: set[int] = set()
        for table, band in zip(self.tables, self._band_keys(signature), strict=True):
            bucket = table.get(band)
            if bucket:
                candidates.update(bucket)
        if not candidates:
            return []
        positions = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        agree = np.count_nonzero(self._matrix[positions] == signature, axis=1)
        hits = positions[agree >= self.threshold * len(signature)]
        return [self.keys[p] for p in hits.tolist()]

    def matrix(self) -> np.ndarray:
        """Signatures in insertion order (row i belongs to keys[i])."""
        return self._matrix[:len(self.keys)]

class UnionFind:
    """Groups of near-duplicates; the root of a group is its earliest member."""

    def __init__(self):
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)
