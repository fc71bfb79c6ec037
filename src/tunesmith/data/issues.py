"""Problems found in input data: where (file, 1-based line or row, field), what, and what to do.

An identical problem on many lines of one file is one issue with a count and its first lines
(`IssueLog`), and a problem of a whole file (line 0) is reported once: a report never has more
lines than the input has problems worth reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from tunesmith.errors import DataError

Severity = Literal["error", "warning", "info"]
SHOWN_LINES = 5  # line numbers listed for a collapsed issue


@dataclass(frozen=True)
class Issue:
    file: str
    line: int  # 1-based line (row for tables); 0 when the whole file is affected
    field: str  # dotted path such as "messages[1].role"; "" when the whole row is affected
    message: str
    hint: str = ""
    severity: Severity = "error"
    count: int = 1  # lines with this same problem (collapsed by IssueLog)
    lines: tuple[int, ...] = ()  # the first of them, when count > 1

    @property
    def location(self) -> str:
        """`file:line`, or `file` for a problem of the whole file."""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def problem(self) -> str:
        """`field: message (on N lines: ...) (what to do)`."""
        repeated = ""
        if self.count > 1:
            more = ", …" if self.count > len(self.lines) else ""
            repeated = f" (on {self.count:,} lines: {', '.join(map(str, self.lines))}{more})"
        return (f"{self.field}: " if self.field else "") + f"{self.message}{repeated}" + \
            (f" ({self.hint})" if self.hint else "")

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}" if self.location else self.problem

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": list(self.lines)}


class SourceError(DataError):
    """A problem of a whole source file (missing, unreadable, empty, wrong encoding or task): one line."""

    def __init__(self, file: str, message: str, hint: str = ""):
        super().__init__(f"{file}: {message}", hint)
        self.issue = Issue(file, 0, "", message, hint)


@dataclass
class RawRow:
    """One row as read from a source, before conversion: a value, or the reason it could not be read."""

    file: str
    line: int
    value: Any = None
    issues: list[Issue] = field(default_factory=list)
    raw: str | None = None  # the source text of a row that could not be parsed, for rejects.jsonl


class IssueLog:
    """Issues in the order found; the same problem (file, field, message, severity) on another line
    adds to the first one's count instead of a new entry, so memory and output stay bounded."""

    def __init__(self) -> None:
        self._first: dict[tuple, int] = {}
        self._issues: list[Issue] = []
        self._lines: list[list[int]] = []
        self._counts: list[int] = []

    def add(self, issue: Issue) -> None:
        key = (issue.file, issue.field, issue.message, issue.severity)
        index = self._first.get(key)
        if index is None:
            self._first[key] = len(self._issues)
            self._issues.append(issue)
            self._lines.append([issue.line])
            self._counts.append(issue.count)
            return
        self._counts[index] += issue.count
        if len(self._lines[index]) < SHOWN_LINES:
            self._lines[index].append(issue.line)

    def extend(self, issues: Iterable[Issue]) -> None:
        for issue in issues:
            self.add(issue)

    @property
    def issues(self) -> list[Issue]:
        return [issue if count == 1 else replace(issue, count=count, lines=tuple(lines))
                for issue, lines, count in zip(self._issues, self._lines, self._counts, strict=True)]

    @property
    def total(self) -> int:
        """Lines with a problem, counting each collapsed issue's repeats."""
        return sum(self._counts)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self._issues)

    def __getitem__(self, index):
        return self.issues[index]

    def __bool__(self) -> bool:
        return bool(self._issues)


def collapse(issues: Iterable[Issue]) -> list[Issue]:
    log = IssueLog()
    log.extend(issues)
    return log.issues


def raise_if_errors(issues: Iterable[Issue], limit: int = 50) -> None:
    """Strict mode: fail with every error listed (repeats collapsed), not only the first."""
    errors = collapse(issue for issue in issues if issue.severity == "error")
    if not errors:
        return
    listed = "; ".join(str(issue) for issue in errors[:limit])
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    raise DataError(f"{sum(i.count for i in errors)} invalid record(s): {listed}{more}.",
                    "Fix them, or set data.strict: false to skip them (they go to rejects.jsonl).")
