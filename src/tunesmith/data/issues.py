"""Problems found in input data: where (file, 1-based line or row, field), what, and what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tunesmith.errors import DataError


@dataclass(frozen=True)
class Issue:
    file: str
    line: int  # 1-based line for line-oriented files, 1-based row for tables and JSON arrays
    field: str  # dotted path such as "messages[1].role"; "" when the whole row is affected
    message: str
    hint: str = ""
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f": {self.field}" if self.field else "")
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawRow:
    """One row as read from a source, before conversion: a value, or the reason it could not be read."""

    file: str
    line: int
    value: Any = None
    issues: list[Issue] = field(default_factory=list)


def raise_if_errors(issues: list[Issue], limit: int = 50) -> None:
    """Strict mode: fail with every error listed, not only the first."""
    errors = [issue for issue in issues if issue.severity == "error"]
    if not errors:
        return
    listed = "; ".join(str(issue) for issue in errors[:limit])
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    raise DataError(f"{len(errors)} invalid record(s): {listed}{more}.",
                    "Fix them, or set data.strict: false to skip them (they go to rejects.jsonl).")
