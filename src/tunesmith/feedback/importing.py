"""Import feedback collected elsewhere (a spreadsheet, a support tool) from JSONL or CSV.

Each row has any of: response_id, rating, correction, answer (the answer that was rated), label, comment, and
the prompt as `messages` (a list of chat messages, or its JSON text in a CSV cell) or as plain text in
`prompt`/`input`/`text`. Tool use is written as OpenAI writes it: `tools` offered to the prompt, assistant
`tool_calls` and `tool` results in `messages`, and `correction_tool_calls`, the calls the model should have made
(JSON text in a CSV cell too). The prompt and its tools are checked and converted as training data is
(data.formats), so a row that the improve loop could not train on is refused here, with its line.
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


def _array(row: dict[str, Any], key: str, where: str) -> Any:
    """messages, tools, correction_tool_calls: JSON arrays, or their JSON text (a CSV cell)."""
    value = row.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"{where}: '{key}' is not JSON", f"Write {key} as a JSON array.") from None
    return value


def _prompt(row: dict[str, Any], path: Path, number: int) -> dict[str, Any]:
    """The row's prompt `messages` (None when it names only a response id) and `tools`, as training data has them."""
    from tunesmith.data.formats import convert_prompt

    messages, tools = _array(row, "messages", f"{path}:{number}"), _array(row, "tools", f"{path}:{number}")
    if messages is None:
        text = next((str(row[key]) for key in _PROMPT_KEYS if row.get(key)), None)
        messages = [{"role": "user", "content": text}] if text else None
    body, issues = convert_prompt(messages, tools, str(path), number)
    if issues:  # the first problem, with its field and what to do, as `data prepare` would name it
        first = issues[0]
        raise DataError(f"{first.location}: " + (f"{first.field}: " if first.field else "") + first.message,
                        first.hint)
    return {"messages": body.get("messages"), "tools": body.get("tools")}


def import_feedback(store: Store, path: str | Path) -> int:
    """Validate every row first, then store them all in one transaction; returns the number imported."""
    path = Path(path)
    parsed = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        fields = {key: row[key] for key in _FIELDS if row.get(key) not in (None, "")}
        fields |= _prompt(row, path, number)
        fields["correction_tool_calls"] = _array(row, "correction_tool_calls", where)
        if fields["correction_tool_calls"] is not None and not isinstance(fields["correction_tool_calls"], list):
            raise DataError(f"{where}: 'correction_tool_calls' must be an array of calls",
                            'Write it as OpenAI writes tool_calls: [{"type": "function", "function": {...}}].')
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
