"""Tool definitions (OpenAI's `tools` list) and tool calls as plain values."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tunesmith.errors import TunesmithError

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names
NO_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}  # `parameters` left out


class ToolError(TunesmithError):
    """A tool definition or call is malformed; `param` says where (e.g. `tools[1].function.parameters`)."""

    def __init__(self, message: str, param: str | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.param = param


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: dict(NO_PARAMETERS))
    strict: bool = False

    def openai(self) -> dict[str, Any]:
        """The tool as OpenAI (and Hugging Face chat templates) write it."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON object, as text (OpenAI's `function.arguments`)

    def openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _check_schema(schema: Any, param: str) -> dict[str, Any]:
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict):
        raise ToolError(f"{param} must be a JSON schema object.", param)
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as err:
        raise ToolError(f"{param} is not a valid JSON schema: {err.message}", param) from None
    if schema.get("type", "object") != "object":
        raise ToolError(f"{param} must describe an object (type: object): arguments are named.", param)
    return schema


def parse_tools(raw: list[dict[str, Any]] | None) -> list[Tool]:
    """OpenAI `tools` → Tools; raises ToolError naming the first bad field."""
    tools: list[Tool] = []
    for index, item in enumerate(raw or []):
        where = f"tools[{index}]"
        if not isinstance(item, dict) or item.get("type") != "function":
            kind = item.get("type") if isinstance(item, dict) else type(item).__name__
            raise ToolError(f"{where}.type is {kind!r}; only function tools are supported.", f"{where}.type")
        function = item.get("function")
        if not isinstance(function, dict):
            raise ToolError(f"{where}.function is missing.", f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ToolError(f"{where}.function.name must be 1-64 letters, digits, '_' or '-'.",
                            f"{where}.function.name")
        if any(t.name == name for t in tools):
            raise ToolError(f"two tools are named {name!r}.", f"{where}.function.name")
        parameters = function.get("parameters")
        schema = dict(NO_PARAMETERS) if parameters is None else _check_schema(
            parameters, f"{where}.function.parameters")
        tools.append(Tool(name, str(function.get("description") or ""), schema, bool(function.get("strict"))))
    return tools


def arguments_object(arguments: str) -> dict[str, Any] | None:
    """The arguments as a dict, or None when they are not a JSON object."""
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def tools_of(raw: list[dict[str, Any]] | None) -> tuple[Tool, ...]:
    """`parse_tools` for stored records, which repeat one tool list on every row: parsed once per distinct list
    (keys keep their order: the schemas are rendered as given, as a request's tools are)."""
    return _parsed(json.dumps(raw)) if raw else ()


@lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[Tool, ...]:
    return tuple(parse_tools(json.loads(text)))
