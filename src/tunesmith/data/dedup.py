"""Exact, near and conflicting duplicates.

Near-duplicates use MinHash signatures of character 5-grams and LSH banding, both vectorized with numpy
over whole blocks: datasketch's MinHash hashes each shingle in a Python loop (~300 µs per record here)
and its MinHashLSH spends ~12 µs per band per record, together several times the per-record budget for
100k-record datasets. Signatures follow datasketch's `affine32` scheme; LSH candidates are confirmed by
the estimated Jaccard similarity.
"""

from __future__ import annotations

import functools
import hashlib
import re
from array import array
from collections.abc import Callable, Iterable, Iterator

import numpy as np

NUM_PERM = 128
NGRAM = 5
MAX_BYTES = 16_384  # longer texts are compared on their first 16 KiB
_SEED = 1
_NOT_WORD = re.compile(r"[\W_]+")


def _said(message: dict) -> str:
    """A message's content and the calls it makes (two answers calling different tools differ)."""
    if message.get("tool_calls"):
        from tunesmith.tools import calls_of, format_calls

        return format_calls(calls_of(message), message["content"])
    return message["content"]


def _message_text(message: dict) -> str:
    return f"{message['role']}: {_said(message)}"


def _tools_line(record: dict) -> list[str]:
    return [f"tools: {', '.join(t['function']['name'] for t in record['tools'])}"] if record.get("tools") else []


def record_text(record: dict) -> str:
    """All the text of a record, as compared for duplicates."""
    if "messages" in record:  # a preference pair differs from another by its rejected answer too
        rejected = f"\nrejected: {record['rejected']}" if record.get("rejected") is not None else ""
        return "\n".join([*_tools_line(record), *map(_message_text, record["messages"])]) + rejected
    if "query" in record:  # embedding pairs
        parts = (record.get(k) for k in ("query", "positive", "negative", "score"))
        return "\n".join(str(part) for part in parts if part is not None)
    return record["text"] + ("\n" + record["text_pair"] if record.get("text_pair") else "")


def near_duplicate_text(record: dict) -> str:
    """The text compared for near-duplicates: an embedding pair's query alone (a reworded test query must
    not be trained on, while paraphrases sharing one document are different queries), else all of it."""
    return record["query"] if "query" in record else record_text(record)


def record_input(record: dict) -> str | None:
    """The part a model is given (everything before the last answer, and the tools offered); None for raw text."""
    if "messages" in record:
        last = max(i for i, m in enumerate(record["messages"]) if m["role"] == "assistant")
        return "\n".join([*_tools_line(record), *map(_message_text, record["messages"][:last])])
    if "query" in record:
        return record["query"]
    if "label" in record:
        return record["text"] + ("\n" + record["text_pair"] if record.get("text_pair") else "")
    return None


def record_output(record: dict) -> str:
    """The answer compared between records with the same input. An embedding query with several documents
    is not a conflict (each is a positive), so its output is empty."""
    if "messages" in record:
        return _said([m for m in record["messages"] if m["role"] == "assistant"][-1])
    return record.get("label", "")


def fingerprint(text: str) -> bytes:
    """Hash of a text with case and spacing ignored."""
    return hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=16).digest()


@functools.lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own affine32 permutations (MinHash._init_permutations), so signatures equal
    `datasketch.MinHash` ones (a test checks); drawn here because importing datasketch loads scipy
    (~45 MB and ~0.8 s per prepare)."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    return a, generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)


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
    encoded = [_encode(t) for t in texts]
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


def _encode(text: str) -> bytes:
    return _NOT_WORD.sub(" ", text.lower()).strip().encode()[:MAX_BYTES].ljust(NGRAM)


def _rolling_hashes(buffer: bytes) -> np.ndarray:
    """A 32-bit FNV-style hash of every NGRAM-byte window of `buffer`."""
    data = np.frombuffer(buffer, dtype=np.uint8).astype(np.uint32)
    width = len(data) - NGRAM + 1
    rolled = np.zeros(width, dtype=np.uint32)
    for k in range(NGRAM):
        rolled = (rolled * np.uint32(16777619)) ^ data[k:k + width]
    return rolled


def shingle_hashes(text: str) -> np.ndarray:
    """The shingle hashes of one text, as fed to MinHash (for checking against datasketch)."""
    return _rolling_hashes(_encode(text))


def _block_signatures(encoded: list[bytes], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    rolled = _rolling_hashes(b"".join(encoded))
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


def band_shape(threshold: float, num_perm: int, recall: float = 0.98) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) that still make a pair at the
    threshold a candidate with probability ≥ `recall`; candidates are then confirmed by similarity."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def _band_hashes(block: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """One uint64 per row of `block` (n x rows); equal bands give equal hashes (collisions are verified)."""
    hashes = np.zeros(len(block), dtype=np.uint64)
    for column in range(block.shape[1]):
        hashes = hashes * multipliers[column] + block[:, column].astype(np.uint64)
    return hashes


def band_keys(sigs: np.ndarray, threshold: float) -> np.ndarray:
    """(bands, n) uint64 LSH keys of signature rows. Each row's keys depend on that row alone, so keys
    computed block by block while streaming equal keys computed over the whole matrix."""
    bands, rows = band_shape(threshold, sigs.shape[1])
    multipliers = np.random.RandomState(_SEED).randint(1, 1 << 62, rows, dtype=np.int64).astype(np.uint64) | 1
    keys = np.empty((bands, len(sigs)), dtype=np.uint64)
    for band in range(bands):
        keys[band] = _band_hashes(sigs[:, band * rows:(band + 1) * rows], multipliers)
    return keys


def _candidate_pairs(keys: np.ndarray, window: int) -> Iterator[np.ndarray]:
    """Chunks of (i, j) index pairs with equal keys. In very large runs (a band shared by a template)
    each item is paired with its `window` nearest neighbours in sorted order only, to bound the work."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    for distance in range(1, window + 1):
        positions = np.nonzero(ordered[:-distance] == ordered[distance:])[0]
        if not len(positions):
            return
        yield np.stack([order[positions], order[positions + distance]], axis=1)


def near_duplicate_pairs(sigs: np.ndarray, threshold: float, window: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j) whose estimated similarity is ≥ threshold, and their similarities."""
    return lsh_pairs(band_keys(sigs, threshold), sigs.__getitem__, threshold, sigs.shape[1], window)


def lsh_pairs(keys: Iterable[np.ndarray], read_rows: Callable[[np.ndarray], np.ndarray], threshold: float,
              num_perm: int, window: int = 128, prefilter: np.ndarray | None = None,
              chunk: int = 32_768) -> tuple[np.ndarray, np.ndarray]:
    """LSH banding done by sorting: per band (`keys`, one array per band), rows with equal keys are
    candidates, confirmed `chunk` pairs at a time on the full signatures that `read_rows(sorted unique
    rows)` returns, so signatures can stay on disk. `prefilter` (n x num_perm, e.g. each value's low
    byte) agrees wherever the signatures agree: candidates it already rejects are never read."""
    verified, agreeing = [np.empty((0, 2), dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    n, needed = 0, threshold * num_perm
    for band_key in keys:
        n = len(band_key)
        for candidates in _candidate_pairs(band_key, window) if n > 1 else ():
            for start in range(0, len(candidates), chunk):
                part = candidates[start:start + chunk]
                if prefilter is not None:
                    part = part[np.count_nonzero(prefilter[part[:, 0]] == prefilter[part[:, 1]], axis=1) >= needed]
                rows, inverse = np.unique(part, return_inverse=True)
                sigs, inverse = read_rows(rows), inverse.reshape(part.shape)
                agree = np.count_nonzero(sigs[inverse[:, 0]] == sigs[inverse[:, 1]], axis=1)
                confirmed = agree >= needed
                verified.append(np.sort(part[confirmed], axis=1))
                agreeing.append(agree[confirmed])
    pairs, agree = np.concatenate(verified), np.concatenate(agreeing)
    codes, first = np.unique(pairs[:, 0] * n + pairs[:, 1], return_index=True)
    return np.stack([codes // max(n, 1), codes % max(n, 1)], axis=1), agree[first] / num_perm


class UnionFind:
    """Groups of near-duplicates; the root of a group is its earliest member."""

    def __init__(self):
        self.parent = array("q")  # 8 bytes per item; a list of ints costs ~36

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
