"""Tool use in source rows: tool definitions, calls and results → the canonical chat record's fields, checked.

Canonical shape (docs/tools.md): the record's `tools` is OpenAI's list of function tools; an assistant message
that calls tools has `tool_calls` ([{id, type: "function", function: {name, arguments}}], arguments a JSON
object as text, in json.dumps' layout) and `content` ("" when it says nothing else); a tool result is a message
`{"role": "tool", "content", "tool_call_id", "name"}`. Every call must name a declared tool with arguments its
schema accepts, and every result must answer an earlier call of the conversation, once. Field names in the
issues are the source's own (`messages[2].tool_calls[0].function.arguments`, `conversations[3].value`).
The `check` argument is formats._Check (error(field, message, hint)).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tunesmith.tools import ToolCall, ToolError, parse_tools, validate

FUNCTION_KEYS = ("name", "description", "parameters", "strict")


def convert_tools(raw: Any, check) -> list[dict] | None:
    """A row's `tools`: OpenAI's list, or a JSON string of it (ShareGPT/LLaMA-Factory); bare function objects
    (`{"name", "description", "parameters"}`) are wrapped as function tools. None when absent or invalid."""
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as err:
            check.error("tools", f"not valid JSON: {err}", "Give tools as a JSON array of function definitions.")
            return None
    if not isinstance(raw, list):
        check.error("tools", "expected an array of tools", 'Give [{"type": "function", "function": {...}}].')
        return None
    wrapped = [{"type": "function", "function": item} if isinstance(item, dict) and "type" not in item
               and "name" in item else item for item in raw]
    try:
        return [tool.openai() for tool in parse_tools(wrapped)]
    except ToolError as err:
        field = err.param or "tools"
        message = err.message[len(field):].lstrip(" :") if err.message.startswith(field) else err.message
        check.error(field, message, "Fix the tool definition (OpenAI function-tool format).")
        return None


def _arguments_text(raw: Any, field: str, check) -> str | None:
    """Arguments as JSON-object text in json.dumps' layout (what serving's grammar decodes and `parse` reads)."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw.strip() else {}
        except ValueError:
            check.error(field, f"arguments are not valid JSON: {raw[:60]!r}", "Write the arguments as a JSON object.")
            return None
    if not isinstance(value, dict):
        check.error(field, "arguments must be a JSON object", 'Write them as {"name": value, ...}.')
        return None
    return json.dumps(value, ensure_ascii=False)


def openai_calls(raw: Any, where: str, check, index: int) -> list[dict]:
    """An OpenAI message's `tool_calls` → canonical calls (a missing id becomes `call_<message>_<call>`)."""
    if not isinstance(raw, list) or not raw:
        check.error(f"{where}.tool_calls", "expected a non-empty array of calls",
                    'Give [{"id": ..., "type": "function", "function": {"name": ..., "arguments": "{...}"}}].')
        return []
    calls = []
    for k, call in enumerate(raw):
        field = f"{where}.tool_calls[{k}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            check.error(f"{field}.function", "missing function", "Each call is {id, type, function: {name, "
                        "arguments}}.")
            continue
        if call.get("type") not in (None, "function"):
            check.error(f"{field}.type", f"unknown call type {call['type']!r}", "Only function calls are supported.")
            continue
        calls.append(_call(call.get("id"), function.get("name"), function.get("arguments"), field, check,
                           f"call_{index}_{k}", "function."))
    return [c for c in calls if c is not None]


def sharegpt_calls(raw: Any, where: str, check, index: int) -> list[dict]:
    """A ShareGPT `function_call` turn's value: `{"name", "arguments"}` or an array of them, as JSON text."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        check.error(f"{where}.value", f"a function_call must be JSON, got {raw[:60]!r}",
                    'Write {"name": <tool>, "arguments": {...}} (or an array of them).')
        return []
    items = value if isinstance(value, list) else [value]
    calls = []
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            check.error(f"{where}.value", "a function_call must be an object with name and arguments",
                        'Write {"name": <tool>, "arguments": {...}}.')
            continue
        arguments = item.get("arguments", item.get("parameters", {}))
        calls.append(_call(item.get("id"), item.get("name"), arguments, f"{where}.value", check, f"call_{index}_{k}",
                           ""))
    return [c for c in calls if c is not None]


def _call(raw_id: Any, name: Any, arguments: Any, field: str, check, default_id: str, prefix: str) -> dict | None:
    if not isinstance(name, str) or not name:
        check.error(f"{field}.{prefix}name", "missing tool name", "Name the tool the call is for.")
        return None
    text = _arguments_text(arguments, f"{field}.{prefix}arguments", check)
    if text is None:
        return None
    call_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else default_id
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def check_conversation(messages: list[dict], tools: list[dict] | None, fields: list[str], check) -> None:
    """Calls name declared tools with valid arguments; results answer an earlier call, once; call ids are unique.
    `fields[i]` is the source's name for message i. Tool messages get their call's `name`."""
    declared = parse_tools(tools) if tools else []
    names = ", ".join(t.name for t in declared) or "none"
    calls: dict[str, str] = {}  # id -> tool name
    answered: set[str] = set()
    for message, where in zip(messages, fields, strict=True):
        for k, call in enumerate(message.get("tool_calls") or []):
            function, field = call["function"], f"{where}.tool_calls[{k}].function"
            if call["id"] in calls:
                check.error(f"{where}.tool_calls[{k}].id", f"call id {call['id']!r} is used twice",
                            "Give every call of a conversation its own id.")
            calls[call["id"]] = function["name"]
            if not any(t.name == function["name"] for t in declared):
                check.error(f"{field}.name", f"calls {function['name']!r}, which the row does not declare "
                            f"(declared tools: {names})", "Declare the tool in the row's `tools`, or fix the name.")
                continue
            for problem in validate(ToolCall(call["id"], function["name"], function["arguments"]), declared):
                check.error(f"{field}.arguments", f"arguments do not match the schema: {problem}",
                            "Fix the arguments, or the tool's parameters schema.")
        if message.get("role") == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in calls:
                check.error(f"{where}.tool_call_id", f"the result answers no earlier call (id {call_id!r}; calls so "
                            f"far: {', '.join(calls) or 'none'})", "Set tool_call_id to the id of the call it answers.")
            elif call_id in answered:
                check.error(f"{where}.tool_call_id", f"call {call_id!r} is answered twice", "Keep one result per call.")
            else:
                answered.add(call_id)
                message["name"] = calls[call_id]


def map_argument_strings(arguments: str, step: Callable[[str], str]) -> str:
    """`step` applied to every string inside a call's arguments (JSON text), so cleaning (PII masking, HTML)
    treats the values a call copies from the conversation as it treats the conversation, and the JSON stays
    valid."""
    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return step(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return json.dumps(walk(json.loads(arguments)), ensure_ascii=False)
