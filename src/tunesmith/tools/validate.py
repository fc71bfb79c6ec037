"""Checking a tool call against the tools offered (jsonschema)."""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.tools.spec import Tool, ToolCall, arguments_object


def validate(call: ToolCall, tools: Sequence[Tool]) -> list[str]:
    """What is wrong with `call` (empty when it names an offered tool with arguments its schema accepts)."""
    from jsonschema.validators import validator_for

    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None:
        return [f"no tool is named {call.name!r} (offered: {', '.join(t.name for t in tools) or 'none'})"]
    arguments = arguments_object(call.arguments)
    if arguments is None:
        return [f"the arguments of {call.name} are not a JSON object: {call.arguments[:80]!r}"]
    validator = validator_for(tool.parameters)(tool.parameters)
    return [f"{call.name}: {'/'.join(map(str, e.absolute_path)) or '(arguments)'}: {e.message}"
            for e in sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))]
