"""The advanced settings panel, generated from the config schema (never a hand-kept list of fields).

Every leaf of ProjectConfig becomes one control whose help text is the field's description; sections
become accordions. Lists, mappings and mixed types are edited as one line of YAML.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import gradio as gr
import yaml
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from tunesmith.config import ProjectConfig, parse_config
from tunesmith.studio import controls

FIELDS_PER_ROW = 2


@dataclass(frozen=True)
class FieldSpec:
    path: str  # dotted, e.g. "training.learning_rate"
    kind: str  # choice, bool, int, float, text or yaml
    description: str
    choices: tuple = ()
    optional: bool = False
    default: Any = None  # shown when the chosen union member has no such field (another method's option)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _variants(annotation: Any) -> list[type[BaseModel]]:
    """The members of a union of sections chosen by `name` (the method section), else []."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    return list(members) if members and all(_is_section(m) for m in members) else []


def _union_fields(variants: list[type[BaseModel]], path: str, description: str) -> list[FieldSpec]:
    """One `name` choice, then every member's options once, each saying which members it belongs to."""
    tags = [typing.get_args(v.model_fields["name"].annotation)[0] for v in variants]
    summary = "; ".join(f"{tag}: {v.model_fields['name'].description}" for tag, v in zip(tags, variants, strict=True))
    specs = [FieldSpec(f"{path}.name", "choice", f"{description} {summary}", tuple(tags))]
    owners: dict[str, list[str]] = {}
    first: dict[str, Any] = {}
    for tag, variant in zip(tags, variants, strict=True):
        for key, info in variant.model_fields.items():
            if key != "name":
                owners.setdefault(key, []).append(tag)
                first.setdefault(key, info)
    for key, info in first.items():
        kind, choices, optional = _kind(info.annotation)
        specs.append(FieldSpec(f"{path}.{key}", kind, f"({', '.join(owners[key])}) {info.description or ''}".strip(),
                               choices, optional, default=info.default))
    return specs


def _kind(annotation: Any) -> tuple[str, tuple, bool]:
    args = typing.get_args(annotation)
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = [a for a in args if a is not type(None)] if is_union else [annotation]
    optional = is_union and len(members) < len(args)
    if len(members) != 1:
        return "yaml", (), optional
    only = members[0]
    if typing.get_origin(only) is Literal:
        return "choice", typing.get_args(only), optional
    simple = {bool: "bool", int: "int", float: "float", str: "text"}
    return simple.get(only, "yaml"), (), optional


def schema_fields(model: type[BaseModel] = ProjectConfig, prefix: str = "") -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if _is_section(info.annotation):
            specs.extend(schema_fields(info.annotation, f"{path}."))
            continue
        if _variants(info.annotation):
            specs.extend(_union_fields(_variants(info.annotation), path, info.description or ""))
            continue
        kind, choices, optional = _kind(info.annotation)
        specs.append(FieldSpec(path, kind, info.description or "", choices, optional))
    return specs


def _get(config: BaseModel, spec: FieldSpec) -> Any:
    # Attribute access; another method's option shows its default (left there, it is ignored on save).
    value: Any = config
    for key in spec.path.split("."):
        if not hasattr(value, key):
            return to_jsonable_python(spec.default)
        value = getattr(value, key)
    return to_jsonable_python(value)


def to_widget_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "yaml":
        return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).removesuffix("\n...\n").strip()
    if spec.kind == "text" and value is None:
        return ""
    return value


def from_widget_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "yaml":  # typed text is read as YAML; a value set from code (a number) is taken as it is
        return (yaml.safe_load(value) if value.strip() else None) if isinstance(value, str) else value
    if spec.kind == "text" and spec.optional and value == "":
        return None
    if spec.kind == "int" and value is not None:
        return int(value)
    return value


def values_for(config: ProjectConfig, specs: list[FieldSpec]) -> list[Any]:
    return [to_widget_value(spec, _get(config, spec)) for spec in specs]


def config_from_values(specs: list[FieldSpec], values: list[Any]) -> ProjectConfig:
    """Rebuild and validate the whole config from the panel (a wrong value raises ConfigError)."""
    data: dict[str, Any] = {}
    for spec, value in zip(specs, values, strict=True):
        keys = spec.path.split(".")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        converted = from_widget_value(spec, value)
        if converted is not None or spec.optional:
            node[keys[-1]] = converted
    return parse_config(data, "settings panel")


def setting_elem_id(path: str) -> str:
    return "setting-" + path.replace(".", "-")


def _widget(spec: FieldSpec, label: str) -> Any:
    help_text = spec.description or "(no description in the schema)"
    common = {"elem_id": setting_elem_id(spec.path)}
    if spec.kind == "choice":
        component = controls.dropdown(label, help_text, choices=list(spec.choices), **common)
    elif spec.kind == "bool":
        component = controls.checkbox(label, help_text, **common)
    elif spec.kind in {"int", "float"}:
        component = controls.number(label, help_text, precision=0 if spec.kind == "int" else None, **common)
    elif spec.kind == "text":
        component = controls.textbox(label, help_text, **common)
    else:
        component = controls.textbox(f"{label} (YAML)", help_text, **common)
    component.ts_path = spec.path
    return component


def build_settings_panel(specs: list[FieldSpec]) -> list[Any]:
    """One accordion per section, one control per field; returned in the order of `specs`."""
    by_path: dict[str, Any] = {}
    groups: dict[str, list[FieldSpec]] = {}
    for spec in specs:
        section = spec.path.rsplit(".", 1)[0] if "." in spec.path else "project"
        groups.setdefault(section, []).append(spec)
    for section, members in groups.items():
        with gr.Accordion(section, open=False, elem_id=f"settings-{section}"):
            for start in range(0, len(members), FIELDS_PER_ROW):
                with gr.Row(equal_height=False):
                    for spec in members[start: start + FIELDS_PER_ROW]:
                        by_path[spec.path] = _widget(spec, spec.path.rsplit(".", 1)[-1].replace("_", " "))
    return [by_path[spec.path] for spec in specs]
