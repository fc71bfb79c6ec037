"""A run's config.yaml: written with a `schema_version`, read back by any later tunesmith.

The project's own tunesmith.yaml is strict (an unknown key is an error that suggests the nearest one). A
config saved in a run folder is history: a setting renamed or removed since must not stop the run from
loading, exporting or serving. So loading one (1) moves renamed keys to their new names (`RENAMES`, applied
to configs saved before the rename), (2) drops keys today's schema does not know and (3) drops values it no
longer accepts, so those settings take today's defaults. Each change is one warning naming the key.
"""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tunesmith.config import ProjectConfig, parse_config
from tunesmith.config.method import OPTIONS, clean_location
from tunesmith.errors import ConfigError

SCHEMA_KEY = "schema_version"
# 1: the first version that writes the key (configs without it are version 0).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Rename:
    version: int  # the schema version that introduced `new`: configs saved before it say `old`
    old: str  # dotted path, e.g. "training.lr"
    new: str


# Renamed settings, oldest first. `git log -S` over src/tunesmith/config finds none up to schema version 1
# (methods moving their options into their own models kept every key name; see tests/methods/old_configs).
RENAMES: tuple[Rename, ...] = ()

_printed: set[str] = set()


def save_run_config(config: ProjectConfig, path: str | Path) -> Path:
    """Write the resolved config with the schema version first."""
    path = Path(path)
    data = {SCHEMA_KEY: SCHEMA_VERSION, **config.model_dump(mode="json")}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def read_saved(path: str | Path) -> dict[str, Any]:
    """The saved mapping without its schema version ({} when missing or unreadable)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    data.pop(SCHEMA_KEY, None)
    return data


def load_run_config(path: str | Path, announce: bool = True) -> ProjectConfig:
    """The config a run trained with; changes made to read it are printed once per process (stderr)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} is missing", "The run folder is incomplete: train again.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML ({getattr(err, 'problem', err)})",
                          "Restore the run's config.yaml from a backup, or train again.") from None
    config, warnings = upgrade(data if isinstance(data, dict) else {}, str(path))
    if announce:
        from rich.markup import escape

        from tunesmith.progress import console

        for warning in warnings:
            if warning not in _printed:
                _printed.add(warning)
                console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    return config


def upgrade(data: dict[str, Any], source: str = "config.yaml") -> tuple[ProjectConfig, list[str]]:
    """A saved config mapping (any schema version) as today's ProjectConfig, and what was changed (pure)."""
    data = copy.deepcopy(data)
    version = data.pop(SCHEMA_KEY, 0)
    version = version if isinstance(version, int) and not isinstance(version, bool) else 0
    warnings: list[str] = []
    if version > SCHEMA_VERSION:
        warnings.append(f"{source} was saved by a newer tunesmith (schema {version}, this one reads "
                        f"{SCHEMA_VERSION}); settings it does not know are ignored")
    for rename in RENAMES:
        value = _pop(data, rename.old) if version < rename.version else _MISSING
        if value is not _MISSING:
            if _get(data, rename.new) is _MISSING:
                _put(data, rename.new, value)
            warnings.append(f"{source}: setting '{rename.old}' is now '{rename.new}'")
    data = _known(data, ProjectConfig, "", source, warnings)
    for _ in range(64):  # each round drops the values still rejected; a config has far fewer rounds
        try:
            return ProjectConfig.model_validate(data), warnings
        except ValidationError as err:
            rejected = [(tuple(clean_location(item["loc"])), item["msg"]) for item in err.errors()]
        dropped = [(where, message) for where, message in rejected if where and _pop(data, where) is not _MISSING]
        if not dropped:
            parse_config(data, source)  # raises the usual one-line ConfigError
        for where, message in dropped:
            warnings.append(f"{source}: '{_dotted(where)}' is not valid any more "
                            f"({message.removeprefix('Value error, ')}); using the default")
    raise ConfigError(f"{source}: cannot read the saved config", "Train again with this version of tunesmith.")


# paths into nested mappings and lists ------------------------------------------------------------------------
_MISSING = object()


def _dotted(path: tuple) -> str:
    """("data", "sources", 0, "path") -> data.sources[0].path, as the warnings about unknown keys write it."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _keys(path: str | tuple) -> list:
    return path.split(".") if isinstance(path, str) else list(path)


def _child(node: Any, key: Any) -> Any:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and str(key).isdigit() and int(key) < len(node):
        return node[int(key)]
    return _MISSING


def _get(data: dict, path: str | tuple) -> Any:
    node: Any = data
    for key in _keys(path):
        node = _child(node, key)
        if node is _MISSING:
            break
    return node


def _pop(data: dict, path: str | tuple) -> Any:
    *parents, last = _keys(path)
    node = _get(data, tuple(parents)) if parents else data
    if _child(node, last) is _MISSING:
        return _MISSING
    return node.pop(last if isinstance(node, dict) else int(last))


def _put(data: dict, path: str | tuple, value: Any) -> None:
    *parents, last = _keys(path)
    node = data
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


# keys today's schema knows ----------------------------------------------------------------------------------
def _model_for(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The options model a mapping is validated against (the method union: the member its `name` picks)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_for(typing.get_args(annotation)[0], value)
    if origin in (typing.Union, types.UnionType):
        members = [_model_for(a, value) for a in typing.get_args(annotation)]
        members = [m for m in members if m is not None]
        if len(members) > 1 and isinstance(value, dict):
            named = [m for m in members if "name" in m.model_fields
                     and m.model_fields["name"].default == value.get("name")]
            return named[0] if named else None
        return members[0] if len(members) == 1 else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _harmless(key: str, value: Any) -> bool:
    """Another method's option left at its default: the method section drops it without a word."""
    return any(key in m.model_fields and m.model_fields[key].default == value for m in OPTIONS.values())


def _known(value: Any, annotation: Any, where: str, source: str, warnings: list[str]) -> Any:
    model = _model_for(annotation, value)
    if model is not None and isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            dotted = f"{where}.{key}" if where else str(key)
            if key in model.model_fields:
                kept[key] = _known(item, model.model_fields[key].annotation, dotted, source, warnings)
            elif not (where == "method" and _harmless(str(key), item)):
                warnings.append(f"{source}: unknown setting '{dotted}' ignored (saved by another tunesmith version)")
        return kept
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _known(value, inner[0], where, source, warnings) if len(inner) == 1 else value
    if origin is list and args and isinstance(value, list):
        return [_known(v, args[0], f"{where}[{i}]", source, warnings) for i, v in enumerate(value)]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _known(v, args[1], f"{where}.{k}", source, warnings) for k, v in value.items()}
    return value
