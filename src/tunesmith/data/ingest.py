"""Stream every source through read -> detect -> convert/validate -> clean, one record at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data.clean import clean_record, cleaning_steps, empty_fields
from tunesmith.data.formats import FORMATS, convert, detect_format, rename_columns
from tunesmith.data.issues import Issue, RawRow
from tunesmith.data.readers import NO_VALUE, ReadMeter, read_source, source_kind, source_size
from tunesmith.errors import DataError

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


@dataclass
class Ingested:
    """What streaming one source produced besides the records themselves."""

    sources: list[SourceSummary] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    meter: ReadMeter = field(default_factory=ReadMeter)


def detect_source_format(rows: list[RawRow], columns: dict[str, str], name: str) -> str:
    values = [rename_columns(row.value, columns) for row in rows if row.value is not NO_VALUE]
    fmt = detect_format(values)
    if fmt is None:
        keys = sorted({str(k) for v in values if isinstance(v, dict) for k in v})[:10]
        raise DataError(f"{name}: cannot tell the format (columns: {', '.join(keys) or 'none'})",
                        f"Set data.sources[].format to one of {', '.join(FORMATS)}, or map your column "
                        "names with data.sources[].columns, e.g. {body: text, category: label}.")
    return fmt


def source_rows(path: Path, source: SourceConfig, name: str,
                meter: ReadMeter | None = None) -> tuple[str, Iterator[RawRow]]:
    """(format, rows): the format is detected from the first rows, which are then replayed."""
    rows = read_source(path, name, meter)
    head = list(islice(rows, _DETECT_SAMPLE))
    fmt = source.format if source.format != "auto" else detect_source_format(head, source.columns, name)

    def replay() -> Iterator[RawRow]:
        yield from head
        yield from rows

    return fmt, replay()


def ingest(project_root: Path, sources: list[tuple[Path, SourceConfig]], config: DataConfig, task: str,
           state: Ingested) -> Iterator[tuple[int, dict]]:
    """Yield (source index, cleaned canonical record); bad rows land in `state` with their issues."""
    steps = cleaning_steps(config)
    used_ids: set[str] = set()
    for source_index, (path, source) in enumerate(sources):
        name = _display_name(path, project_root)
        read_before = state.meter.bytes
        fmt, rows = source_rows(path, source, name, state.meter)
        summary = SourceSummary(name, source_kind(path), fmt, source.weight, source.split)
        state.sources.append(summary)
        for row in rows:
            if row.value is NO_VALUE and all(issue.severity == "warning" for issue in row.issues):
                state.warnings.extend(row.issues)
                continue
            summary.rows += 1
            record, issues = (None, row.issues) if row.value is NO_VALUE else convert(
                rename_columns(row.value, source.columns), fmt, task, row.file, row.line)
            if record is not None:
                clean_record(record, steps, state.counts)
                issues = [Issue(row.file, row.line, f, "empty after cleaning",
                                "The text was only markup or whitespace; fix or remove the row.")
                          for f in empty_fields(record)]
            if issues:
                summary.rejected += 1
                state.errors.extend(issues)
                state.rejects.append({"file": row.file, "line": row.line, "field": issues[0].field,
                                      "message": "; ".join(i.message for i in issues),
                                      "errors": [i.to_dict() for i in issues], "row": _jsonable(row.value)})
                continue
            record["id"] = _unique_id(record["id"] or f"{Path(name).stem}-{row.line}", used_ids)
            summary.records += 1
            yield source_index, record
        state.meter.bytes = read_before + source_size(path)  # whole, whatever the reader counted


def _unique_id(candidate: str, used: set[str]) -> str:
    unique, n = candidate, 1
    while unique in used:
        n += 1
        unique = f"{candidate}~{n}"
    used.add(unique)
    return unique


def _display_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _jsonable(value):
    if value is NO_VALUE:
        return None
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)
