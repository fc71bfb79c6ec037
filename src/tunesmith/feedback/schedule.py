"""Safe to run from cron: `--when` conditions and a lock so two improve runs never overlap."""

from __future__ import annotations

import contextlib
import fcntl
import operator
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from tunesmith.errors import TunesmithError

LOCK_FILE = ".tunesmith-improve.lock"
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt}
_CLAUSE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|>|<)\s*(\d+(?:\.\d+)?)\s*$")
CONDITION_NAMES = {
    "feedback": "corrections not yet used by a promoted model",
    "ratings": "feedback of any kind (ratings included) not yet used by a promoted model",
    "days": "days since the production model was promoted",
}


class ImproveLocked(TunesmithError):
    """Another improve run holds the project's lock."""


def parse_condition(text: str) -> list[tuple[str, str, float]]:
    """`feedback>=50 and days>=7` -> [("feedback", ">=", 50.0), ("days", ">=", 7.0)]."""
    clauses = []
    for part in re.split(r"\band\b|&&|,", text):
        match = _CLAUSE.match(part)
        if not match or match.group(1) not in CONDITION_NAMES:
            raise TunesmithError(f"cannot read the condition '{part.strip()}' in --when \"{text}\"",
                                 "Write NAME>=N joined by 'and', with NAME one of: "
                                 + ", ".join(CONDITION_NAMES) + '. Example: --when "feedback>=50".')
        clauses.append((match.group(1), match.group(2), float(match.group(3))))
    return clauses


def condition_met(clauses: list[tuple[str, str, float]], values: dict[str, float]) -> tuple[bool, str]:
    """Whether every clause holds, and a sentence saying which did not."""
    failed = [f"{name} is {values[name]:g} (needs {op} {limit:g})" for name, op, limit in clauses
              if not _OPERATORS[op](values[name], limit)]
    return not failed, "; ".join(failed) or "all conditions hold"


@contextlib.contextmanager
def improve_lock(project_root: Path) -> Iterator[Path]:
    """An exclusive lock file in the project; the OS releases it if the process dies."""
    path = Path(project_root) / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ImproveLocked(f"another `tunesmith improve` is running in {project_root} (pid {holder})",
                                "Wait for it to finish; cron runs can simply try again later.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        handle.close()
