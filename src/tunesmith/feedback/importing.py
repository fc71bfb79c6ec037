"""Import feedback collected elsewhere (a spreadsheet, a support tool) from JSONL or CSV.

Each row has any of: response_id, rating, correction, answer (the answer that was rated), label, comment, and
the prompt as `messages` (a list of chat messages, or its JSON text in a CSV cell) or as plain text in
`prompt`/`input`/`text`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tunesmith.errors import DataError, TunesmithError
from tunesmith.feedback.capture import new_feedback
from tunesmith.feedback.store import Store

_FIELDS = ("response_id", "rating", "correction", "answer", "label", "comment")
_PROMPT_KEYS = ("prompt", "input", "text", "question")


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"no feedback file at {path}", "Pass the path of a .jsonl or .csv file.")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(number + 2, {k: v for k, v in row.items() if k and v not in (None, "")})
                for number, row in enumerate(reader)]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: invalid JSON ({err.msg})",
                            "Each line must be one JSON object.") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object", "Each line must be one JSON object.")
        rows.append((number, row))
    return rows


def _messages(row: dict[str, Any], where: str) -> list[dict[str, Any]] | None:
    messages = row.get("messages")
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            raise DataError(f"{where}: 'messages' is not JSON", "Write the chat messages as a JSON list.") from None
    if messages is not None:
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "content" in m for m in messages):
            raise DataError(f"{where}: 'messages' must be a list of {{role, content}} objects",
                            'Example: [{"role": "user", "content": "..."}]')
        return messages
    for key in _PROMPT_KEYS:
        if row.get(key):
            return [{"role": "user", "content": str(row[key])}]
    return None


def import_feedback(store: Store, path: str | Path) -> int:
    """Validate every row first, then store them all in one transaction; returns the number imported."""
    path = Path(path)
    parsed = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        fields = {key: row[key] for key in _FIELDS if row.get(key) not in (None, "")}
        fields["messages"] = _messages(row, where)
        parsed.append((where, fields))
    if not parsed:
        raise DataError(f"{path} has no feedback rows", "Add one JSON object per line, or CSV rows under a header.")
    with store.session() as session:
        for where, fields in parsed:
            try:
                new_feedback(session, store.settings, source="import", **fields)
            except TunesmithError as err:
                raise DataError(f"{where}: {err.message}", err.hint) from None
    return len(parsed)
