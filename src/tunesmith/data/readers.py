"""Reading sources: the only module of the data step that opens input files.

Every reader streams `RawRow`s (file, 1-based line or row, parsed value) and turns unreadable input
into issues instead of exceptions, so one pass finds every problem. Byte-order marks, Windows line
endings and blank lines are repaired and reported as warnings.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

from tunesmith.data.issues import Issue, RawRow
from tunesmith.errors import DataError

BOM = b"\xef\xbb\xbf"
NO_VALUE = object()  # a RawRow that only carries file-level warnings
KINDS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "txt_folder", "hf_dataset")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
             ".parquet": "parquet", ".txt": "txt", ".md": "txt"}
_UTF8_HINT = "Re-save the file as UTF-8."


def source_kind(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() \
                or (path / "state.json").exists():
            return "hf_dataset"
        return "txt_folder"
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'",
                        f"Use one of {', '.join(sorted(_SUFFIXES))}, a folder of .txt files or a saved "
                        "Hugging Face dataset folder.")
    return kind


class ReadMeter:
    """Bytes of sources read so far, for the progress bar. JSON Lines count line by line; the other
    readers hold a file (JSON, txt) or a table in memory anyway, and their source counts once done."""

    __slots__ = ("bytes",)

    def __init__(self):
        self.bytes = 0


def source_size(path: Path) -> int:
    """Bytes of a file, or of every file inside a folder."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def source_hash(path: Path) -> str:
    """Content hash of a file, or of every file (name and bytes) inside a folder."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_source(path: str | Path, name: str | None = None, meter: ReadMeter | None = None) -> Iterator[RawRow]:
    """Stream the rows of one source; `name` is how the file is shown in issues (default: the path)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data source {path} does not exist", "Check data.sources[].path in tunesmith.yaml.")
    kind = source_kind(path)
    name = name or str(path)
    readers = {"json": _read_json, "csv": _read_table, "tsv": _read_table,
               "parquet": _read_parquet, "txt": _read_txt_file, "txt_folder": _read_txt_folder,
               "hf_dataset": _read_hf_dataset}
    if kind == "jsonl":
        yield from _read_jsonl(path, name, meter or ReadMeter())
    else:
        yield from readers[kind](path, name)


def _decode(raw: bytes, name: str, line: int) -> tuple[str | None, Issue | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, Issue(name, line, "", f"invalid UTF-8 byte 0x{raw[err.start]:02x} at column {err.start + 1}",
                           _UTF8_HINT)


def _layout_warnings(name: str, bom: bool, first_crlf: int, blank: list[int]) -> Iterator[RawRow]:
    if bom:
        yield RawRow(name, 1, NO_VALUE, [Issue(name, 1, "", "byte-order mark removed", "Save without a BOM.",
                                               "warning")])
    if first_crlf:
        yield RawRow(name, first_crlf, NO_VALUE, [Issue(
            name, first_crlf, "", "Windows line endings (CRLF) converted", "Save with LF line endings.", "warning")])
    if blank:
        yield RawRow(name, blank[0], NO_VALUE, [Issue(
            name, blank[0], "", f"{len(blank)} blank line(s) skipped", "Remove empty lines.", "warning")])


def _read_jsonl(path: Path, name: str, meter: ReadMeter) -> Iterator[RawRow]:
    bom, first_crlf, blank = False, 0, []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            meter.bytes += len(raw)
            if number == 1 and raw.startswith(BOM):
                bom, raw = True, raw[len(BOM):]
            if raw.endswith(b"\r\n") and not first_crlf:
                first_crlf = number
            try:  # fast path: orjson parses UTF-8 bytes directly; failures are re-parsed below for a clear message
                yield RawRow(name, number, orjson.loads(raw))
                continue
            except orjson.JSONDecodeError:
                pass
            text, issue = _decode(raw, name, number)
            if issue:
                yield RawRow(name, number, NO_VALUE, [issue])
                continue
            if not text.strip():
                blank.append(number)
                continue
            try:
                yield RawRow(name, number, json.loads(text.rstrip("\r\n")))
            except json.JSONDecodeError as err:
                yield RawRow(name, number, NO_VALUE, [Issue(
                    name, number, "", f"invalid JSON: {err.msg} at column {err.colno}",
                    "Each line must be one complete JSON object.")])
    yield from _layout_warnings(name, bom, first_crlf, blank)


def _read_json(path: Path, name: str) -> Iterator[RawRow]:
    raw = path.read_bytes()
    bom = raw.startswith(BOM)
    raw = raw[len(BOM):] if bom else raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        yield RawRow(name, line, NO_VALUE, [Issue(name, line, "", f"invalid UTF-8 byte 0x{raw[err.start]:02x}",
                                                  _UTF8_HINT)])
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        yield RawRow(name, err.lineno, NO_VALUE, [Issue(name, err.lineno, "", f"invalid JSON: {err.msg} at "
                                                        f"column {err.colno}", "Fix the JSON syntax there.")])
        return
    yield from _layout_warnings(name, bom, 0, [])
    for number, value in enumerate(_json_records(data, name), 1):
        yield RawRow(name, number, value)


def _json_records(data, name: str) -> list:
    """A JSON file holds an array of records, an object of arrays (e.g. {"data": [...]}) or of records."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        return [row for rows in data.values() for row in rows]
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return [{"id": str(key), **value} for key, value in data.items()]
    if isinstance(data, dict):
        return [data]
    raise DataError(f"{name}: expected an array or an object of records, got {type(data).__name__}",
                    "Use JSON Lines or a JSON array of objects.")


def _read_table(path: Path, name: str) -> Iterator[RawRow]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, "rb") as fh:
        bom = fh.read(len(BOM)) == BOM
    blank: list[int] = []  # CRLF is the standard CSV line ending (RFC 4180): nothing to report
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            yield RawRow(name, 1, NO_VALUE, [Issue(name, 1, "", "no header row", "Put column names on line 1.")])
            return
        previous_end = reader.line_num
        for row in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not row or not any(cell.strip() for cell in row):
                blank.append(start)
                continue
            yield _table_row(name, start, header, row)
    yield from _layout_warnings(name, bom, 0, blank)


def _table_row(name: str, line: int, header: list[str], row: list[str]) -> RawRow:
    if len(row) != len(header):
        return RawRow(name, line, NO_VALUE, [Issue(name, line, "", f"expected {len(header)} columns, got {len(row)}",
                                                   "Quote fields that contain the delimiter or line breaks.")])
    bad = [column for column, cell in zip(header, row, strict=True) if _has_surrogates(cell)]
    if bad:
        return RawRow(name, line, NO_VALUE, [Issue(name, line, bad[0], "invalid UTF-8", _UTF8_HINT)])
    return RawRow(name, line, dict(zip(header, row, strict=True)))


def _has_surrogates(text: str) -> bool:
    return not text.isascii() and any("\udc80" <= ch <= "\udcff" for ch in text)


def _read_parquet(path: Path, name: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=2048):
        for value in batch.to_pylist():
            number += 1
            yield RawRow(name, number, value)


def _read_txt_file(path: Path, name: str, label: str | None = None) -> Iterator[RawRow]:
    raw = path.read_bytes()
    bom = raw.startswith(BOM)
    text, issue = _decode(raw[len(BOM):] if bom else raw, name, 1)
    if issue:
        yield RawRow(name, 1, NO_VALUE, [issue])
        return
    yield from _layout_warnings(name, bom, 0, [])
    value = {"text": text.replace("\r\n", "\n")}
    if label is not None:
        value["label"] = label
    yield RawRow(name, 1, value)


def _read_txt_folder(path: Path, name: str) -> Iterator[RawRow]:
    """One record per .txt file; files in subfolders take the subfolder name as their label."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".md"))
    for file in files:
        relative = file.relative_to(path)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        yield from _read_txt_file(file, f"{name}/{relative.as_posix()}", label)


def _read_hf_dataset(path: Path, name: str) -> Iterator[RawRow]:
    from datasets import Dataset, load_from_disk  # slow import: only for saved dataset folders

    loaded = load_from_disk(str(path))
    parts = [("", loaded)] if isinstance(loaded, Dataset) else list(loaded.items())
    for split, dataset in parts:
        shown = f"{name}[{split}]" if split else name
        for number, value in enumerate(dataset, 1):
            yield RawRow(shown, number, value)
