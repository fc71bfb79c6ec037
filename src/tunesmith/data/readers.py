"""Reading sources: the only module of the data step that opens input files.

Every reader streams `RawRow`s (file, 1-based line or row, parsed value) and turns unreadable input
into issues instead of exceptions, so one pass finds every problem. Byte-order marks, Windows line
endings and blank lines are repaired and reported as warnings. A problem of the whole file (see
sources.py; empty, in another encoding) is one `SourceError`. No record longer than the record limit
is ever held in memory (see textfile.py).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data.issues import Issue, RawRow, SourceError
from tunesmith.data.json_items import json_items
from tunesmith.data.sources import ReadMeter, check_source, folder_files, source_parts
from tunesmith.data.textfile import TextLines, first_invalid, read_text

NO_VALUE = object()  # the value of a RawRow that carries only issues (an unreadable row, or a warning)
_UTF8_HINT = "Re-save the file as UTF-8, or set data.sources[].encoding to the encoding it was saved in."


def read_source(path: str | Path, name: str | None = None, meter: ReadMeter | None = None,
                source: SourceConfig | None = None, max_record_bytes: int | None = None) -> Iterator[RawRow]:
    """Stream the rows of one source (every file of a folder in turn); `name` is how it is shown in issues."""
    path = Path(path)
    name = name or str(path)
    check_source(path, name, None, True)
    for part, kind, shown in source_parts(path, name)[0]:
        yield from read_file(part, kind, shown, source, max_record_bytes, meter)


def read_file(path: Path, kind: str, name: str, source: SourceConfig | None = None,
              max_record_bytes: int | None = None, meter: ReadMeter | None = None) -> Iterator[RawRow]:
    """Stream the rows of one file (or txt folder / saved dataset) of a known kind."""
    encoding = (source or SourceConfig(path=str(path))).encoding
    limit = max_record_bytes or DataConfig().max_record_bytes
    meter = meter or ReadMeter()
    if kind == "jsonl":
        yield from _read_jsonl(path, name, encoding, limit, meter)
    elif kind in ("csv", "tsv"):
        yield from _read_table(path, name, encoding, limit, meter, "\t" if kind == "tsv" else ",")
    elif kind == "json":
        yield from _read_json(path, name, encoding, limit)
    elif kind == "txt":
        yield from _read_txt_file(path, name, encoding, limit)
    elif kind == "txt_folder":
        yield from _read_txt_folder(path, name, encoding, limit)
    elif kind == "parquet":
        yield from _read_parquet(path, name)
    else:
        yield from _read_hf_dataset(path, name)


def _notes(issues: list[Issue]) -> Iterator[RawRow]:
    for issue in issues:
        yield RawRow(issue.file, issue.line, NO_VALUE, [issue])


def _oversize(name: str, line: int, size: int, limit: int) -> RawRow:
    return RawRow(name, line, NO_VALUE, [Issue(
        name, line, "", f"record longer than data.max_record_bytes ({limit:,})",
        f"This one has {size:,} bytes and was skipped: split it, or raise data.max_record_bytes.")])


def _invalid_utf8(name: str, line: int, text: str, at: int, field: str = "") -> Issue:
    byte = ord(text[at]) - 0xDC00
    where = f"position {at + 1} of the value" if field else f"column {at + 1}"
    return Issue(name, line, field, "invalid UTF-8", f"Byte 0x{byte:02x} at {where}. {_UTF8_HINT}")


def _layout_warnings(name: str, first_crlf: int, blank: list[int]) -> Iterator[RawRow]:
    if first_crlf:
        yield RawRow(name, first_crlf, NO_VALUE, [Issue(
            name, first_crlf, "", "Windows line endings (CRLF) converted", "Save with LF line endings.", "warning")])
    if blank:
        yield RawRow(name, blank[0], NO_VALUE, [Issue(
            name, blank[0], "", f"{len(blank)} blank line(s) skipped", "Remove empty lines.", "warning")])


def _read_jsonl(path: Path, name: str, encoding: str, limit: int, meter: ReadMeter) -> Iterator[RawRow]:
    first_crlf, blank = 0, []
    with TextLines(path, name, encoding, limit) as lines:
        yield from _notes(lines.decoding.notes)
        for number, raw, size in lines:
            meter.bytes += size
            if raw is None:
                yield _oversize(name, number, size, limit)
                continue
            if raw.endswith(b"\r\n") and not first_crlf:
                first_crlf = number
            try:  # fast path: orjson parses UTF-8 bytes directly; failures are re-parsed below for a clear message
                yield RawRow(name, number, orjson.loads(raw))
                continue
            except orjson.JSONDecodeError:
                pass
            text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            bad = first_invalid(text)
            if bad is not None:
                yield RawRow(name, number, NO_VALUE, [_invalid_utf8(name, number, text, bad)], raw=text)
                continue
            if not text.strip():
                blank.append(number)
                continue
            yield _parse_json_line(name, number, text)
    yield from _layout_warnings(name, first_crlf, blank)


def _parse_json_line(name: str, number: int, text: str) -> RawRow:
    """The slow path, for lines orjson refused: a clear message for invalid JSON; valid JSON that orjson
    refuses (numbers beyond 64 bits, NaN) is accepted unless a string escapes a lone surrogate."""
    try:
        value = json.loads(text)
        if _escapes_surrogate(text) and _has_lone_surrogate(value):
            message = "invalid JSON: a \\u escape is half of a surrogate pair, not a character"
        else:
            return RawRow(name, number, value)
    except json.JSONDecodeError as err:
        message = f"invalid JSON: {err.msg} at column {err.colno}"
    except RecursionError:
        message = "invalid JSON: nested too deeply"
    return RawRow(name, number, NO_VALUE, [Issue(name, number, "", message,
                                                 "Each line must be one complete JSON object.")], raw=text)


def _escapes_surrogate(text: str) -> bool:
    return "\\ud" in text or "\\uD" in text


def _has_lone_surrogate(value) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _read_json(path: Path, name: str, encoding: str, limit: int) -> Iterator[RawRow]:
    text, notes = read_text(path, name, encoding)
    yield from _notes(notes)
    bad = first_invalid(text)
    if bad is not None:
        line = text.count("\n", 0, bad) + 1
        yield RawRow(name, line, NO_VALUE, [_invalid_utf8(name, line, text, bad - (text.rfind("\n", 0, bad) + 1))])
        return
    try:
        items = json_items(text, name)
    except json.JSONDecodeError as err:
        yield RawRow(name, err.lineno, NO_VALUE, [Issue(name, err.lineno, "", f"invalid JSON: {err.msg} at "
                                                        f"column {err.colno}", "Fix the JSON syntax there.")])
        return
    except RecursionError:
        yield RawRow(name, 1, NO_VALUE, [Issue(name, 1, "", "invalid JSON: nested too deeply",
                                               "Flatten the structure.")])
        return
    check = _escapes_surrogate(text)
    for line, size, value in items:
        if size > limit:
            yield _oversize(name, line, size, limit)
        elif check and _has_lone_surrogate(value):
            yield RawRow(name, line, NO_VALUE, [Issue(name, line, "", "invalid JSON: a \\u escape is half of a "
                                                      "surrogate pair, not a character", "Fix the text there.")])
        else:
            yield RawRow(name, line, value)


class _RecordLines:
    """The decoded lines csv reads, numbered, with the lines of the record being read kept (for rejects)
    and its size bounded: an over-long line or record raises _TooLong instead of being fed to csv."""

    def __init__(self, lines: TextLines, limit: int, meter: ReadMeter):
        self._lines, self._limit, self._meter = iter(lines), limit, meter
        self.number, self.start, self.text, self._size = 0, 1, [], 0

    def begin(self) -> None:
        self.start, self.text, self._size = self.number + 1, [], 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        number, raw, size = next(self._lines)
        self.number = number
        self._meter.bytes += size
        self._size += size
        if raw is None or self._size > self._limit:
            raise _TooLong(self._size)
        line = raw.decode("utf-8", "surrogateescape")
        self.text.append(line)
        return line


class _TooLong(Exception):
    def __init__(self, size: int):
        self.size = size


def _read_table(path: Path, name: str, encoding: str, limit: int, meter: ReadMeter,
                delimiter: str) -> Iterator[RawRow]:
    """CSV/TSV rows keyed by the header. Quoting is parsed strictly: a broken quote is one error that
    names every line it spans (e.g. an unterminated quote swallowing the rest of the file), never rows
    that silently vanish into one field."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # records are bounded by _RecordLines instead
    header: list[str] | None = None
    blank: list[int] = []  # CRLF is the standard CSV line ending (RFC 4180): nothing to report
    with TextLines(path, name, encoding, limit) as text_lines:
        yield from _notes(text_lines.decoding.notes)
        lines = _RecordLines(text_lines, limit, meter)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        while True:
            lines.begin()
            try:
                row = next(reader)
            except StopIteration:
                break
            except _TooLong as err:
                if header is None:
                    raise SourceError(name, f"the header row is longer than data.max_record_bytes ({limit:,})",
                                      "Check the delimiter and quoting of line 1.") from None
                yield _oversize(name, lines.start, err.size, limit)
                continue
            except csv.Error as err:
                if header is None:
                    raise SourceError(name, f"cannot read the header row: {err}",
                                      "Put the column names on line 1, quoting any that contain the delimiter.") \
                        from None
                yield _broken_quote(name, lines, str(err))
                continue
            if header is None:
                header = _header(name, row)
            elif not any(cell.strip() for cell in row):
                blank.append(lines.start)
            else:
                yield _table_row(name, lines.start, header, row, "".join(lines.text))
    yield from _layout_warnings(name, 0, blank)


def _broken_quote(name: str, lines: _RecordLines, error: str) -> RawRow:
    start, end = lines.start, lines.number
    span = f"line {start}" if end <= start else f"lines {start}-{end} ({end - start + 1} lines)"
    if error == "unexpected end of data":
        message = f"unterminated quote: {span} to the end of the file could not be read as rows"
    else:
        message = f"malformed quoting ({error}): {span} could not be read as rows"
    return RawRow(name, start, NO_VALUE, [Issue(
        name, start, "", message, f"Check the quotes from line {start} on: a field with the delimiter, a quote or "
        'a line break is quoted, and a quote inside it is doubled ("").')], raw="".join(lines.text))


def _header(name: str, row: list[str]) -> list[str]:
    if not any(cell.strip() for cell in row):
        raise SourceError(name, "line 1 is empty: no header row", "Put the column names on line 1.")
    if any(first_invalid(cell) is not None for cell in row):
        raise SourceError(name, "the header row (line 1) is not valid UTF-8", _UTF8_HINT)
    seen: set[str] = set()
    for column in row:
        if column in seen:
            raise SourceError(name, f"column '{column}' appears twice in the header",
                              "Give every column a distinct name.")
        seen.add(column)
    return row


def _table_row(name: str, line: int, header: list[str], row: list[str], raw: str) -> RawRow:
    if len(row) != len(header):
        return RawRow(name, line, NO_VALUE, [Issue(name, line, "", f"expected {len(header)} columns, got {len(row)}",
                                                   "Quote fields that contain the delimiter or line breaks.")], raw=raw)
    for column, cell in zip(header, row, strict=True):
        bad = first_invalid(cell)
        if bad is not None:
            return RawRow(name, line, NO_VALUE, [_invalid_utf8(name, line, cell, bad, column)], raw=raw)
    return RawRow(name, line, dict(zip(header, row, strict=True)))


def _read_parquet(path: Path, name: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    number = 0
    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:
        raise SourceError(name, f"is not a readable Parquet file ({err})", "Re-export it, or use JSON Lines.") \
            from None
    for batch in parquet.iter_batches(batch_size=2048):
        for value in batch.to_pylist():
            number += 1
            yield RawRow(name, number, value)


def _read_txt_file(path: Path, name: str, encoding: str, limit: int, label: str | None = None) -> Iterator[RawRow]:
    size = path.stat().st_size
    if size > limit:
        yield _oversize(name, 1, size, limit)
        return
    text, notes = read_text(path, name, encoding)
    yield from _notes(notes)
    bad = first_invalid(text)
    if bad is not None:
        line = text.count("\n", 0, bad) + 1
        yield RawRow(name, line, NO_VALUE, [_invalid_utf8(name, line, text, bad - (text.rfind("\n", 0, bad) + 1))])
        return
    value = {"text": text.replace("\r\n", "\n")}
    if label is not None:
        value["label"] = label
    yield RawRow(name, 1, value)


def _read_txt_folder(path: Path, name: str, encoding: str, limit: int) -> Iterator[RawRow]:
    """One record per .txt/.md file; files in subfolders take the subfolder name as their label."""
    for file, kind in folder_files(path, name)[0]:
        if kind != "txt":
            continue
        relative = file.relative_to(path)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        yield from _read_txt_file(file, f"{name}/{relative.as_posix()}", encoding, limit, label)


def _read_hf_dataset(path: Path, name: str) -> Iterator[RawRow]:
    from datasets import Dataset, load_from_disk  # slow import: only for saved dataset folders

    loaded = load_from_disk(str(path))
    parts = [("", loaded)] if isinstance(loaded, Dataset) else list(loaded.items())
    for split, dataset in parts:
        shown = f"{name}[{split}]" if split else name
        for number, value in enumerate(dataset, 1):
            yield RawRow(shown, number, value)
