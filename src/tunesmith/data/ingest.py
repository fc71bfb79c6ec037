"""Stream every source through read -> detect -> convert/validate -> clean, one record at a time.

Validate and prepare both go through `ingest`, so they see the same rows and the same errors. A
problem of a whole file (a SourceError) stops prepare; validate collects it and reads on.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data.clean import clean_record, cleaning_steps, empty_fields
from tunesmith.data.formats import convert, detect_format, rename_columns
from tunesmith.data.issues import Issue, IssueLog, RawRow, SourceError
from tunesmith.data.readers import NO_VALUE, read_file
from tunesmith.data.sources import ReadMeter, check_source, source_kind, source_parts, source_size
from tunesmith.data.spill import SpillFile
from tunesmith.data.task_fit import fit_task, undetected

_DETECT_SAMPLE = 50


@dataclass
class SourceSummary:
    path: str
    kind: str
    format: str
    weight: float
    split: str
    rows: int = 0
    records: int = 0
    rejected: int = 0


class Rejects:
    """Rejected rows for rejects.jsonl: in an anonymous spill file when prepare gives a folder (a file
    of bad rows costs disk, not RAM), otherwise only counted."""

    def __init__(self, folder: Path | None = None):
        self.count = 0
        self._spill = SpillFile(folder) if folder is not None else None

    def add(self, reject: dict) -> None:
        self.count += 1
        if self._spill is not None:
            line = json.dumps(reject, ensure_ascii=False, default=str) + "\n"
            self._spill.append(line.encode("utf-8", "backslashreplace"))  # a file name that is not UTF-8

    def __len__(self) -> int:
        return self.count

    def write_to(self, path: Path) -> None:
        with open(path, "wb") as fh:
            if self._spill is not None:
                for offset in range(0, self._spill.size, 1 << 20):
                    fh.write(self._spill.read(offset, min(1 << 20, self._spill.size - offset)))

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()


@dataclass
class Ingested:
    """What streaming the sources produced besides the records themselves."""

    sources: list[SourceSummary] = field(default_factory=list)
    rejects: Rejects = field(default_factory=Rejects)
    warnings: IssueLog = field(default_factory=IssueLog)  # warnings and info notes
    errors: IssueLog = field(default_factory=IssueLog)
    counts: Counter = field(default_factory=Counter)
    meter: ReadMeter = field(default_factory=ReadMeter)


class SourceRows:
    """The rows of one file with its format: detected from the first rows (replayed), or from the first
    readable row when those were all unreadable; checked against the task once for the whole file."""

    def __init__(self, rows: Iterator[RawRow], source: SourceConfig, name: str, task: str | None):
        self.name, self.source, self.task = name, source, task
        self.columns = source.columns
        self.notes: list[Issue] = []
        self._head = list(islice(rows, _DETECT_SAMPLE))
        self._rest = rows
        if not any(row.value is not NO_VALUE or _has_error(row) for row in self._head):
            raise SourceError(name, "has no records", "Add records to it, or remove it from data.sources.")
        self.format: str | None = None
        if source.format != "auto":
            self._settle(source.format, [row.value for row in self._head if row.value is not NO_VALUE])
        else:
            values = [row.value for row in self._head if row.value is not NO_VALUE]
            if values:
                self._detect(values)

    def _detect(self, values: list) -> None:
        renamed = [rename_columns(value, self.columns) for value in values]
        fmt = detect_format(renamed)
        if fmt is None:
            raise undetected(renamed, self.name)
        self._settle(fmt, values)

    def _settle(self, fmt: str, values: list) -> None:
        if self.task is None:
            self.format = fmt
            return
        renamed = [rename_columns(value, self.columns) for value in values]
        self.format, self.columns, notes = fit_task(fmt, self.task, renamed, self.columns, self.name)
        self.notes += notes

    def __iter__(self) -> Iterator[RawRow]:
        for row in chain(self._head, self._rest):
            if self.format is None and row.value is not NO_VALUE:
                self._detect([row.value])
            yield row


def _has_error(row: RawRow) -> bool:
    return any(issue.severity == "error" for issue in row.issues)


def source_rows(path: Path, source: SourceConfig, name: str, task: str | None = None, kind: str | None = None,
                max_record_bytes: int | None = None, meter: ReadMeter | None = None) -> SourceRows:
    """One file's rows with its format (for a task: its fitted format and column mapping)."""
    rows = read_file(path, kind or source_kind(path), name, source, max_record_bytes, meter)
    return SourceRows(rows, source, name, task)


def ingest(project_root: Path, sources: list[tuple[Path, SourceConfig]], config: DataConfig, task: str,
           state: Ingested, collect_file_errors: bool = False) -> Iterator[tuple[int, dict]]:
    """Yield (source index, cleaned canonical record); bad rows land in `state` with their issues.

    A SourceError (a whole file unusable) is raised, or with `collect_file_errors` recorded as one issue
    while the other files are read on.
    """
    steps = cleaning_steps(config)
    used_ids: set[str] = set()
    for source_index, (path, source) in enumerate(sources):
        name = display_name(path, project_root)
        read_before = state.meter.bytes
        try:
            state.warnings.extend(check_source(path, name, project_root, source.allow_outside))
            parts, notes = source_parts(path, name)
        except SourceError as err:
            if not collect_file_errors:
                raise
            state.errors.add(err.issue)
            continue
        state.warnings.extend(notes)
        summary = SourceSummary(name, source_kind(path), "", source.weight, source.split)
        state.sources.append(summary)
        for part, kind, part_name in parts:
            try:
                rows = source_rows(part, source, part_name, task, kind, config.max_record_bytes, state.meter)
                yield from _ingest_rows(rows, summary, source_index, task, steps, used_ids, state)
            except SourceError as err:
                if not collect_file_errors:
                    raise
                state.errors.add(err.issue)
            except OSError as err:
                failure = SourceError(part_name, f"cannot be read ({err.strerror or err})", "Check the file.")
                if not collect_file_errors:
                    raise failure from None
                state.errors.add(failure.issue)
        state.meter.bytes = read_before + source_size(path)  # whole, whatever the reader counted


def _ingest_rows(rows: SourceRows, summary: SourceSummary, source_index: int, task: str, steps: list,
                 used_ids: set[str], state: Ingested) -> Iterator[tuple[int, dict]]:
    for row in rows:
        if row.value is NO_VALUE and not _has_error(row):
            state.warnings.extend(row.issues)
            continue
        summary.rows += 1
        record, issues = (None, row.issues) if row.value is NO_VALUE else convert(
            rename_columns(row.value, rows.columns), rows.format, task, row.file, row.line)
        if record is not None:
            clean_record(record, steps, state.counts)
            issues = [Issue(row.file, row.line, f, "empty after cleaning",
                            "The text was only markup or whitespace; fix or remove the row.")
                      for f in empty_fields(record)]
        if issues:
            summary.rejected += 1
            state.errors.extend(issues)
            state.rejects.add({"file": row.file, "line": row.line, "field": issues[0].field,
                               "message": "; ".join(i.message for i in issues),
                               "errors": [i.to_dict() for i in issues],
                               "row": row.raw if row.value is NO_VALUE else _jsonable(row.value)})
            continue
        record["id"] = _unique_id(record["id"] or f"{Path(rows.name).stem}-{row.line}", used_ids)
        summary.records += 1
        yield source_index, record
    state.warnings.extend(rows.notes)
    if rows.format and rows.format not in summary.format.split("+"):
        summary.format = "+".join(filter(None, (summary.format, rows.format)))


def _unique_id(candidate: str, used: set[str]) -> str:
    unique, n = candidate, 1
    while unique in used:
        n += 1
        unique = f"{candidate}~{n}"
    used.add(unique)
    return unique


def display_name(path: Path, root: Path) -> str:
    """How a source is named in issues: relative to the project folder, or its absolute path."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a link loop: name the link itself
        resolved = Path(os.path.normpath(path.absolute()))
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def _jsonable(value):
    if value is NO_VALUE:
        return None
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)
