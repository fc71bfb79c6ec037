"""Strict pydantic base: unknown keys are errors that suggest the nearest valid key."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator


def nearest(word: str, choices: list[str]) -> str | None:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return match[0] if match else None


class Section(BaseModel):
    """A config section. Defaults live on the fields: this schema is their only home. Float settings must
    be finite: inf or nan (`--set training.learning_rate=inf`) is an error naming the key."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    guess = nearest(str(key), known)
                    tip = f" Did you mean '{guess}'?" if guess else ""
                    raise ValueError(
                        f"unknown key '{key}' in {cls.__name__}.{tip} Valid keys: {', '.join(known)}"
                    )
        return data


def _auto_or_switch(value: Any) -> Any:
    if value == "auto" or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # --set training.x=true
        return value.strip().lower() == "true"
    raise ValueError(f"must be 'auto', true or false, got {value!r}")


# A setting that is true, false or "auto" (resolved by config/auto.py or the owner of the setting), checked in one
# place, so a bad value gets one message rather than one per member of the union.
Switch = Annotated[bool | Literal["auto"],
                   PlainValidator(_auto_or_switch, json_schema_input_type=bool | Literal["auto"])]
