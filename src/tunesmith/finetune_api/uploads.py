"""Check an uploaded fine-tuning file at once, so a broken file fails at upload with its line numbers.

OpenAI's chat format (`{"messages": [...]}` with optional per-message `weight` 0/1 on assistant turns)
and the legacy prompt/completion format are accepted; both become canonical chat records.
"""

from __future__ import annotations

import json
from typing import Any

from tunesmith.finetune_api.errors import OpenAIError

ROLES = {"system", "user", "assistant"}
MAX_LISTED = 5


def _chat_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "expected a JSON object per line"
    if "messages" not in value:
        if isinstance(value.get("prompt"), str) and isinstance(value.get("completion"), str):
            return None
        return "missing 'messages' (chat format) or 'prompt'/'completion'"
    messages = value["messages"]
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{i}] must be an object"
        role = message.get("role")
        if role not in ROLES:
            return f"messages[{i}].role is {role!r}; expected one of {', '.join(sorted(ROLES))}"
        if not isinstance(message.get("content"), str):
            return f"messages[{i}].content must be a string (tool calls and images are not supported)"
        if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
            return f"messages[{i}].weight must be 0 or 1, and only on assistant messages"
    if not any(m["role"] == "assistant" and m.get("weight", 1) == 1 for m in messages):
        return "no assistant message with weight 1 to learn from"
    return None


def _canonical(value: dict[str, Any], line: int) -> dict[str, Any]:
    if "messages" in value:
        messages = [{k: m[k] for k in ("role", "content", "weight") if k in m} for m in value["messages"]]
    else:
        messages = [{"role": "user", "content": value["prompt"]},
                    {"role": "assistant", "content": value["completion"]}]
    return {"id": f"line-{line}", "messages": messages, "meta": {"line": line}}


def parse_training_file(filename: str, content: bytes) -> list[dict[str, Any]]:
    """Canonical chat records of an uploaded JSONL file, or a 400 naming the first broken lines."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise OpenAIError(400, f"{filename} is not UTF-8 text (byte {err.start}).", param="file",
                          code="invalid_file_format") from None
    records, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as err:
            problems.append(f"line {number}: invalid JSON ({err.msg} at column {err.colno})")
            continue
        problem = _chat_problem(value)
        if problem:
            problems.append(f"line {number}: {problem}")
        else:
            records.append(_canonical(value, number))
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise OpenAIError(400, f"{filename}: {len(problems)} invalid line(s): {listed}{more}. Fix the file and "
                          "upload it again.", param="file", code="invalid_file_format")
    if not records:
        raise OpenAIError(400, f"{filename} has no training examples.", param="file", code="invalid_file_format")
    return records
