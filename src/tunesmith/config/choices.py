"""What tunesmith.yaml records: the user's choices, never a copy of the defaults.

A setting is a choice when it was set (written in the file, given to `init`, passed to `--set`, picked in the
studio) or when its value differs from the schema's default. Everything else is left out, so the project
follows the schema: a default improved later reaches it, and the file shows what the user decided.
`tunesmith config` prints the resolved whole. Loading an old file that spells out every default still works:
each of its values is simply an explicit choice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from tunesmith.methods.registry import MethodOptions


def choices(config: BaseModel, since: BaseModel | None = None) -> dict[str, Any]:
    """The choices in `config` as the nested dict tunesmith.yaml holds (parsing it gives `config` back).

    `since`: for a config rebuilt from a form that shows every setting (so every field counts as set), the
    config the form was filled from; the choices are then those of `since` plus what the form changed.
    """
    return _walk(config, type(config)(), since, own_set=since is None)


def _walk(model: BaseModel, default: BaseModel | None, before: BaseModel | None, own_set: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        base = getattr(default, name) if default is not None else field.get_default(call_default_factory=True)
        previous = getattr(before, name) if before is not None else PydanticUndefined
        chosen = (own_set and name in model.model_fields_set) or (
            before is not None and (name in before.model_fields_set or value != previous))
        if isinstance(value, BaseModel):
            inner = _walk(value, base if type(base) is type(value) else None,
                          previous if type(previous) is type(value) else None, own_set)
            if isinstance(value, MethodOptions) and (inner or type(base) is not type(value)):
                inner = {"name": value.name, **inner}  # the options are read by their method's name
            if inner:
                out[name] = inner
        elif chosen or base is PydanticUndefined or value != base:
            # an unchanged list or mapping keeps the sections in it as they were chosen
            out[name] = _plain(previous, True) if before is not None and value == previous else _plain(value, own_set)
    return out


def _plain(value: Any, own_set: bool) -> Any:
    """A value as YAML holds it; sections inside lists and mappings keep only their own choices."""
    if isinstance(value, BaseModel):
        return _walk(value, None, None, own_set)
    if isinstance(value, (list, tuple)):
        return [_plain(item, own_set) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, own_set) for key, item in value.items()}
    return to_jsonable_python(value)
