"""The `method:` section: one options model per method, chosen by `name` (a discriminated union).

The YAML stays flat (`method: {name: lora, r: 16, alpha: 32}`). Each method module in tunesmith.methods
declares its own options model; this module only gathers them, so a new method needs no edit here. An
option of another method is harmless when left at that method's default (e.g. after `--set method.name=full`
on a LoRA config), and an error that lists the method's own options otherwise; an unknown key suggests the
nearest valid one.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field

from tunesmith.methods.registry import MethodOptions, discover

DEFAULT_METHOD = "lora"
OPTIONS: dict[str, type[MethodOptions]] = {name: method.options for name, method in discover().items()}


def _nearest(word: str, choices: list[str]) -> str | None:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return match[0] if match else None


def _is_default_elsewhere(key: str, value: Any) -> bool:
    fields = [model.model_fields[key] for model in OPTIONS.values() if key in model.model_fields]
    return bool(fields) and any(f.default == value for f in fields)


def _flat(data: Any) -> Any:
    """Pick the options model from `name` and drop harmless options of other methods."""
    if not isinstance(data, dict):
        return data
    name = data.get("name", DEFAULT_METHOD)
    if not isinstance(name, str) or name not in OPTIONS:  # a list or mapping is not hashable
        guess = _nearest(str(name), list(OPTIONS))
        tip = f" Did you mean '{guess}'?" if guess else ""
        raise ValueError(f"unknown method '{name}'.{tip} Choose one of: {', '.join(OPTIONS)}")
    own = OPTIONS[name].option_names()
    every = {key for model in OPTIONS.values() for key in model.option_names()}
    kept, stray = {"name": name}, []
    for key, value in data.items():
        if key == "name" or key in own:
            kept[key] = value
        elif key in every:
            if not _is_default_elsewhere(key, value):
                stray.append(key)
        else:
            guess = _nearest(str(key), list(own) or sorted(every))
            tip = f" Did you mean '{guess}'?" if guess else ""
            raise ValueError(f"unknown key '{key}' in method.{tip} Options of '{name}': {', '.join(own) or 'none'}")
    if stray:
        raise ValueError(f"option(s) {', '.join(sorted(stray))} do not apply to method '{name}' "
                         f"(its options: {', '.join(own) or 'none'})")
    return kept


MethodConfig = Annotated[Union[tuple(OPTIONS.values())], Field(discriminator="name"),  # noqa: UP007
                         BeforeValidator(_flat)]


def method_config(name: str = DEFAULT_METHOD, **options) -> MethodOptions:
    """Validated options of one method (ValueError names what is wrong), e.g. method_config("lora", r=8)."""
    from pydantic import TypeAdapter

    return TypeAdapter(MethodConfig).validate_python({"name": name, **options})


def switch_method(current: MethodOptions, name: str) -> MethodOptions:
    """Options for method `name` that keep the current ones both methods share (r, dropout, target_modules...)."""
    shared = {k: v for k, v in current.options().items() if k in OPTIONS[name].option_names()}
    return method_config(name, **shared)


def option_names(name: str) -> tuple[str, ...]:
    return OPTIONS[name].option_names()


def clean_location(loc: tuple) -> tuple:
    """pydantic puts the chosen union member in error locations (method.lora.r); users wrote method.r."""
    return tuple(part for i, part in enumerate(loc) if not (i and loc[i - 1] == "method" and part in OPTIONS))


def default_method() -> MethodOptions:
    return OPTIONS[DEFAULT_METHOD]()
