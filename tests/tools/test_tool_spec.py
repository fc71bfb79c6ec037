"""tools.parse_tools and tools.validate: definitions checked with jsonschema, calls checked against them."""

from __future__ import annotations

import pytest

from tunesmith.tools import ToolCall, ToolError, parse_tools, validate

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}, "days": {"type": "integer",
                                                                                     "minimum": 1}},
                                                "required": ["city"], "additionalProperties": False}}}


def test_tools_parse_with_defaults():
    tools = parse_tools([WEATHER, {"type": "function", "function": {"name": "ping"}}])
    assert [t.name for t in tools] == ["get_weather", "ping"]
    assert tools[1].parameters == {"type": "object", "properties": {}, "additionalProperties": False}, \
        "no parameters means an empty argument list"
    assert tools[0].openai() == WEATHER


@pytest.mark.parametrize("tool, param", [
    ({"type": "custom", "custom": {"name": "x"}}, "tools[0].type"),
    ({"type": "function", "function": {"name": "has space"}}, "tools[0].function.name"),
    ({"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 3}}},
     "tools[0].function.parameters"),
    ({"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}},
     "tools[0].function.parameters"),
])
def test_bad_definitions_name_the_field(tool, param):
    with pytest.raises(ToolError) as err:
        parse_tools([tool])
    assert err.value.param == param and param in str(err.value)


def test_duplicate_names_are_refused():
    with pytest.raises(ToolError, match="two tools"):
        parse_tools([WEATHER, WEATHER])


@pytest.mark.parametrize("name, arguments, fragment", [
    ("get_weather", '{"city": "Paris", "days": 2}', None),
    ("get_time", '{"city": "Paris"}', "no tool is named 'get_time'"),
    ("get_weather", '{"days": 0}', "'city' is a required property"),
    ("get_weather", '{"city": "Paris", "days": 0}', "days: 0 is less than the minimum"),
    ("get_weather", '["Paris"]', "not a JSON object"),
    ("get_weather", '{"city": "Paris", "extra": 1}', "Additional properties"),
])
def test_validate_reports_what_is_wrong(name, arguments, fragment):
    problems = validate(ToolCall("call_1", name, arguments), parse_tools([WEATHER]))
    assert (problems == []) if fragment is None else any(fragment in p for p in problems), problems
