"""Shared by the serve tests: the weather tool, and checks that responses have exactly the SDK's shapes."""

from __future__ import annotations

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 16},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                   "required": ["city", "days"], "additionalProperties": False}}}
TOOL_ASK = [{"role": "user", "content": "Weather in Paris?"}]


def strict_shape(obj, allowed: tuple[str, ...] = ()) -> None:
    """`obj` (a response object of the openai SDK), at every level, carries no field the SDK does not know (the
    SDK keeps unknown fields silently, so this is checked by hand)."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        unknown = set(obj.model_extra or {}) - set(allowed)
        assert not unknown, f"{type(obj).__name__} has fields the SDK does not know: {unknown}"
        for name in type(obj).model_fields:
            strict_shape(getattr(obj, name), allowed)
    elif isinstance(obj, list):
        for item in obj:
            strict_shape(item, allowed)


def sdk_valid(obj, allowed: tuple[str, ...] = ()):
    """`obj` re-validated by its SDK type (responses are built without validation) and checked by strict_shape."""
    strict_shape(obj, allowed)
    type(obj).model_validate(obj.model_dump(mode="json", warnings=False))
    return obj
