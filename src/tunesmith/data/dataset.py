"""A prepared dataset version on disk: data/<version>/{train,validation,test}.parquet + manifest.json."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tunesmith.errors import DataError

SPLITS = ("train", "validation", "test")
_CALL = pa.struct([("id", pa.string()), ("type", pa.string()),
                   ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())]))])
# tool_calls on assistant turns, tool_call_id + name on tool results (docs/tools.md); null elsewhere
_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string()), ("weight", pa.int8()),
                      ("tool_calls", pa.list_(_CALL)), ("tool_call_id", pa.string()), ("name", pa.string())])
SCHEMAS = {
    # rejected / desirable: preference records (data/preference.py); null on demonstrations. tools: the
    # OpenAI tools list as JSON text (free-form JSON schemas have no fixed Parquet type); null without tools
    "chat": pa.schema([("id", pa.string()), ("messages", pa.list_(_MESSAGE)), ("tools", pa.string()),
                       ("rejected", pa.string()), ("desirable", pa.bool_()), ("meta", pa.string())]),
    "classification": pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.string()),
                                 ("text_pair", pa.string()), ("meta", pa.string())]),
    "text": pa.schema([("id", pa.string()), ("text", pa.string()), ("meta", pa.string())]),
    # score: scored sentence pairs only; negative: a document that does not answer the query (optional)
    "embedding": pa.schema([("id", pa.string()), ("query", pa.string()), ("positive", pa.string()),
                            ("negative", pa.string()), ("score", pa.float64()), ("meta", pa.string())]),
}


def schema_description(task: str) -> dict[str, str]:
    """The split files' columns, as written in the manifest (meta and tools are stored as JSON strings)."""
    return {field.name: str(field.type) for field in SCHEMAS[task]}


def _to_row(record: dict) -> dict:
    row = dict(record)
    row["meta"] = orjson.dumps(record.get("meta", {}), default=str,
                               option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    if record.get("tools"):
        row["tools"] = orjson.dumps(record["tools"]).decode()  # key order kept: schemas render as given
    return row


def _from_row(row: dict) -> dict:
    record = {key: value for key, value in row.items() if value is not None}
    if "messages" in record:
        record["messages"] = [{k: v for k, v in m.items() if v is not None} for m in record["messages"]]
    record["meta"] = orjson.loads(row.get("meta") or "{}")
    if "tools" in record:
        record["tools"] = orjson.loads(record["tools"])
    return record


def write_split(records: Iterable[dict], path: Path, task: str, batch_size: int = 4096) -> int:
    """Stream canonical records into one Parquet file; returns how many were written."""
    schema, count, batch = SCHEMAS[task], 0, []
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for record in records:
            batch.append(_to_row(record))
            if len(batch) >= batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count, batch = count + len(batch), []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def _records(table: pa.Table | None) -> list[dict]:
    return [] if table is None else [_from_row(row) for row in table.to_pylist()]


@dataclass
class PreparedDataset:
    """One immutable dataset version: canonical records per split plus the manifest that made them."""

    path: Path
    manifest: dict

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def project_name(self) -> str:
        """The project the version belongs to: recorded in newer manifests, else its folder (<project>/data/<v>)."""
        return self.manifest.get("project") or self.path.resolve().parents[1].name

    @cached_property
    def _tables(self) -> dict[str, pa.Table | None]:
        return {}

    def split(self, name: str) -> list[dict]:
        """Fresh canonical records of `name` (train, validation or test); an absent or empty split gives []."""
        if name not in SPLITS:
            raise DataError(f"unknown split '{name}'", f"Use one of {', '.join(SPLITS)}.")
        if name not in self._tables:
            path = self.path / f"{name}.parquet"
            self._tables[name] = pq.read_table(path) if path.exists() else None
        return _records(self._tables[name])

    def iter_split(self, name: str, batch_size: int = 4096) -> Iterator[dict]:
        """The records of `name` streamed from disk, `batch_size` rows at a time (split() loads them all)."""
        path = self.path / f"{name}.parquet"
        if name not in SPLITS:
            raise DataError(f"unknown split '{name}'", f"Use one of {', '.join(SPLITS)}.")
        if path.exists():
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
                yield from (_from_row(row) for row in batch.to_pylist())

    def counts(self) -> dict[str, int]:
        return {name: self.manifest.get("counts", {}).get(name, 0) for name in SPLITS}

    @property
    def rejects_path(self) -> Path:
        return self.path / "rejects.jsonl"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"


def load_prepared(path: str | Path) -> PreparedDataset:
    """Open a prepared dataset folder (data/<version>)."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise DataError(f"{path} is not a prepared dataset (no manifest.json)",
                        "Run `tunesmith data prepare` in the project folder first.")
    return PreparedDataset(path, json.loads(manifest_path.read_text(encoding="utf-8")))
