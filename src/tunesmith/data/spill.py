"""Where the dedup pass keeps what it has seen: record bodies and MinHash signatures on disk, only the
small per-record fields that dedup and split need in RAM.

Spill files are anonymous temporary files in the project's data folder (not /tmp, which may be RAM):
on Linux they never have a name (O_TMPFILE), elsewhere they are unlinked at once or deleted on close,
so an interrupted prepare leaves nothing behind. Reads use pread, so the page cache, not the process,
holds what was read back: peak RSS grows by the in-RAM fields only. The disk space, while prepare
runs, is about the kept records' JSON plus ~800 bytes per record (signature, band keys, low bytes).
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import orjson

from tunesmith.data.dedup import NUM_PERM, band_keys, band_shape, lsh_pairs


class SpillFile:
    """An append-only temporary file, read back by offset."""

    def __init__(self, folder: Path | None = None):
        # closed by close(): the owner (Deduplicator) is the context manager
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".tunesmith-spill-", buffering=1 << 20)  # noqa: SIM115
        self.size = 0
        self._unflushed = False

    def append(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)
        self._unflushed = True

    def read(self, offset: int, length: int) -> bytes:
        if self._unflushed:
            self._file.flush()
            self._unflushed = False
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), length, offset)
        self._file.seek(offset)  # Windows: no pread; appends go back to the end below
        data = self._file.read(length)
        self._file.seek(0, os.SEEK_END)
        return data

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()


class RecordStore:
    """Kept records as JSON on disk; in RAM an end offset (8 bytes) and a shared label reference (8 bytes)."""

    def __init__(self, folder: Path | None = None):
        self._spill = SpillFile(folder)
        self._ends = array("q")
        self.labels: list[str | None] = []
        self._label_objects: dict[str | None, str | None] = {}  # one string object per distinct label

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, record: dict) -> None:
        self._spill.append(orjson.dumps(record))
        self._ends.append(self._spill.size)
        label = record.get("label")
        self.labels.append(self._label_objects.setdefault(label, label))

    def get(self, position: int) -> dict:
        position = range(len(self))[position]  # negative positions and IndexError like a list
        start = self._ends[position - 1] if position else 0
        return orjson.loads(self._spill.read(start, self._ends[position] - start))

    @property
    def ids(self) -> Sequence[str]:
        return Ids(self)

    def close(self) -> None:
        self._spill.close()


class Ids(Sequence):
    """Record ids read from the store on access: they are only shown in messages, never scanned."""

    def __init__(self, store: RecordStore, positions: Sequence[int] | None = None):
        self.store, self.positions = store, positions

    def __len__(self) -> int:
        return len(self.store) if self.positions is None else len(self.positions)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return self.store.get(index if self.positions is None else self.positions[index])["id"]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class SignatureStore:
    """MinHash signatures, their LSH band keys and the low byte of each signature value, all on disk
    while records stream. `pairs()` loads the low bytes (NUM_PERM bytes per record) and one band of keys
    at a time: values whose low bytes differ differ, so the low bytes reject nearly every false LSH
    candidate (templated data yields millions) without a read; the few that pass are confirmed on the
    full signatures."""

    def __init__(self, threshold: float, folder: Path | None = None):
        self.threshold = threshold
        self._sigs, self._keys, self._low = SpillFile(folder), SpillFile(folder), SpillFile(folder)
        self._blocks: list[tuple[int, int]] = []  # (offset in the key file, rows): keys are (bands, rows)
        self.count = 0

    def append(self, sigs: np.ndarray) -> None:
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        self._sigs.append(sigs.tobytes())
        self._blocks.append((self._keys.size, len(sigs)))
        self._keys.append(band_keys(sigs, self.threshold).tobytes())
        self._low.append((sigs & 0xFF).astype(np.uint8).tobytes())
        self.count += len(sigs)

    def _band(self, band: int) -> np.ndarray:
        return np.concatenate([np.empty(0, dtype=np.uint64)] + [
            np.frombuffer(self._keys.read(offset + band * rows * 8, rows * 8), dtype=np.uint64)
            for offset, rows in self._blocks])

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        width = NUM_PERM * 4
        data = b"".join(self._sigs.read(row * width, width) for row in rows.tolist())
        return np.frombuffer(data, dtype=np.uint32).reshape(len(rows), NUM_PERM)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Near-duplicate pairs (i < j) and their similarities, exactly as `near_duplicate_pairs` finds them."""
        bands = band_shape(self.threshold, NUM_PERM)[0]
        low = np.frombuffer(self._low.read(0, self._low.size), dtype=np.uint8).reshape(-1, NUM_PERM)
        return lsh_pairs((self._band(band) for band in range(bands)), self.read_rows, self.threshold,
                         NUM_PERM, prefilter=low)

    def close(self) -> None:
        for spill in (self._sigs, self._keys, self._low):
            spill.close()
