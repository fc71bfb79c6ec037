"""Check sources without writing anything: every issue in one pass, and a look at one file."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data.formats import convert, rename_columns
from tunesmith.data.ingest import Ingested, ingest, source_rows
from tunesmith.data.issues import Issue, IssueLog
from tunesmith.data.readers import NO_VALUE
from tunesmith.data.sources import check_source, source_kind, source_parts
from tunesmith.errors import DataError


@dataclass
class ValidationResult:
    records: int
    issues: list[Issue]  # repeats of one problem in one file collapsed into one issue with a count
    counts: Counter
    sources: list = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def error_count(self) -> int:
        """Rows (or whole files) with an error, repeats included."""
        return sum(i.count for i in self.errors)


def validate_sources(root: Path, sources: list[tuple[Path, SourceConfig]], config: DataConfig,
                     task: str) -> ValidationResult:
    """Read, convert and clean every source exactly as prepare does; return every error and warning,
    whole-file problems included (nothing is written)."""
    state = Ingested()
    records = sum(1 for _ in ingest(root, sources, config, task, state, collect_file_errors=True))
    issues = sorted([*state.errors, *state.warnings], key=lambda i: (i.file, i.line, i.field))
    return ValidationResult(records, issues, state.counts, state.sources)


def validate_project(project) -> ValidationResult:
    config = project.config.data
    sources = [(project.source_path(s.path), s) for s in config.sources]
    return validate_sources(project.root, sources, config, project.config.objective.task)


def validate_file(path: str | Path, task: str | None = None) -> ValidationResult:
    """Validate one file or folder with the default data settings; the task follows its format."""
    path = Path(path)
    source = SourceConfig(path=str(path), allow_outside=True)  # no project: nothing to be outside of
    if task is None:
        task = _task_for(_first_format(path, source))
    return validate_sources(path.parent, [(path, source)], DataConfig(), task)


def _first_format(path: Path, source: SourceConfig) -> str | None:
    """The format of the first file of a source that has one (None if none can be told: validation then
    reports why)."""
    try:
        check_source(path, path.name, None, True)
        for part, kind, name in source_parts(path, path.name)[0]:
            fmt = source_rows(part, source, name, kind=kind).format
            if fmt:
                return fmt
    except DataError:
        pass
    return None


def _task_for(fmt: str | None) -> str:
    from tunesmith.data.formats import EMBEDDING_FORMATS

    if fmt in EMBEDDING_FORMATS:
        return "embedding"
    return "classification" if fmt == "text_label" else "text" if fmt == "text" else "chat"


@dataclass
class Inspection:
    path: str
    kind: str
    format: str
    examples: list[dict]
    issues: list[Issue]
    rows_sampled: int


def inspect_file(path: str | Path, fmt: str = "auto", task: str | None = None,
                 columns: dict[str, str] | None = None, examples: int = 3, sample: int = 1000) -> Inspection:
    """Which format a file is in, a few converted examples, and the issues among its first rows."""
    path = Path(path)
    source = SourceConfig(path=str(path), format=fmt, columns=columns or {})
    check_source(path, str(path), None, True)
    part, kind, name = source_parts(path, str(path))[0][0]
    if task is None:
        task = _task_for(source_rows(part, source, name, kind=kind).format)
    rows = source_rows(part, source, name, task, kind)
    converted, issues, sampled = [], IssueLog(), 0
    issues.extend(rows.notes)
    for row in islice(rows, sample):
        if row.value is NO_VALUE:
            issues.extend(row.issues)
            continue
        sampled += 1
        record, problems = convert(rename_columns(row.value, rows.columns), rows.format, task, row.file, row.line)
        issues.extend(problems)
        if record is not None and len(converted) < examples:
            converted.append(record)
    return Inspection(str(path), source_kind(path), rows.format or "unknown", converted, issues.issues, sampled)
