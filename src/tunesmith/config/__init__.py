"""The project configuration: the only home of defaults. YAML in, validated objects out."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from tunesmith.config.base import Section
from tunesmith.config.choices import choices
from tunesmith.config.data import DataConfig
from tunesmith.config.embedding import EmbeddingConfig
from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.config.feedback import FeedbackConfig
from tunesmith.config.few_shot import FewShotConfig
from tunesmith.config.finetune_api import FinetuneApiConfig
from tunesmith.config.method import MethodConfig, clean_location, default_method
from tunesmith.config.model import ModelConfig
from tunesmith.config.objective import ObjectiveConfig
from tunesmith.config.preference import PreferenceConfig
from tunesmith.config.serve import ServeConfig
from tunesmith.config.training import TrainingConfig
from tunesmith.config.tune import TuneConfig
from tunesmith.errors import ConfigError

PROJECT_FILE = "tunesmith.yaml"
FILE_HEADER = ("# Your choices only: a setting not written here takes its default, so improved defaults reach\n"
               "# this project. `tunesmith config` prints every setting as resolved; `--schema` documents them.\n")


class ProjectConfig(Section):
    name: str = Field("my-project", description="Project name, used in run ids and model ids.")
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    method: MethodConfig = Field(default_factory=default_method, description="The fine-tuning method and its "
                                 "options, chosen by name (each method's own options; see tunesmith.methods).")
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    preference: PreferenceConfig = Field(default_factory=PreferenceConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    few_shot: FewShotConfig = Field(default_factory=FewShotConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    finetune_api: FinetuneApiConfig = Field(default_factory=FinetuneApiConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (\\n, \\x1b): an error names what the
    user typed, and stays the one line the CLI prints."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def _format_validation_error(err: ValidationError, source: str) -> str:
    problems = []
    for item in err.errors():
        where = ".".join(str(p) for p in clean_location(item["loc"])) or "(top level)"
        problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return one_line(f"{source}: " + "; ".join(problems))


def parse_config(data: dict[str, Any], source: str = "config") -> ProjectConfig:
    try:
        return ProjectConfig.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source),
                          "Fix the key or value named above (see `tunesmith config --schema`).") from None
    except UnicodeEncodeError as err:  # a lone surrogate: a "\\uD800" escape, or bytes that are not UTF-8
        raise ConfigError(f"{source}: {err.object[err.start:err.end]!r} is not valid Unicode text",
                          "Write the text in UTF-8, without lone \\uD800-\\uDFFF escapes.") from None


def apply_overrides(config: ProjectConfig, overrides: list[str]) -> ProjectConfig:
    """Apply `section.key=value` overrides (values parsed as YAML) and re-validate; the result's choices are the
    config's plus the overridden keys."""
    data = choices(config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(one_line(f"override '{item}' is not of the form section.key=value"),
                              "Example: --set training.learning_rate=1e-4")
        dotted, raw = item.split("=", 1)
        node = data
        keys = dotted.strip().split(".")
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = _yaml_value(dotted, raw)
    return parse_config(data, "override")


def _yaml_value(key: str, raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(one_line(f"override {key}={raw}: the value is not valid YAML ({problem})"),
                          f"Quote it to pass text: --set '{one_line(key)}=\"...\"'.") from None


# Settings a later version removed, with what replaced them. A project file that still sets one loads, with a
# warning (a file written by an older `tunesmith init` spelled out every default); a key never known stays an
# error. Saved run configs go further (tunesmith.runs.saved_config drops anything unknown).
RETIRED = {
    ("training", "overfit_gap"): "replaced by training.overfit_patience: the overfitting warning now fires when "
                                 "validation loss rises that many evaluations in a row while training loss falls",
}


def drop_retired(data: dict[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """`data` without retired settings, and one warning per setting dropped (pure)."""
    data, notes = dict(data), []
    for (section, key), why in RETIRED.items():
        if isinstance(data.get(section), dict) and key in data[section]:
            data[section] = {k: v for k, v in data[section].items() if k != key}
            notes.append(f"{source}: '{section}.{key}' is no longer a setting ({why}); ignoring it. "
                         f"Delete the line to silence this warning.")
    return data, notes


def load_config(path: str | Path) -> ProjectConfig:
    path = Path(path)
    if path.is_dir():
        path = path / PROJECT_FILE
    if not path.exists():
        raise ConfigError(f"no project file at {path}",
                          "Run `tunesmith quickstart DIR` or `tunesmith init DIR` to create one.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(err, 'problem', err)})",
                          "Check indentation and quoting on that line.") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the project file must be a mapping of sections",
                          "Start from `tunesmith quickstart` for an example.")
    data, notes = drop_retired(data or {}, str(path))
    if notes:
        from rich.markup import escape

        from tunesmith.progress import console

        for note in notes:
            console.print(f"[yellow]warning:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    return parse_config(data, str(path))


def save_config(config: ProjectConfig, path: str | Path) -> Path:
    """Write the project file with the user's choices only (see config/choices.py); loading it gives `config`."""
    path = Path(path)
    if path.is_dir():
        path = path / PROJECT_FILE
    chosen = choices(config)
    body = yaml.safe_dump(chosen, sort_keys=False, allow_unicode=True, width=10_000) if chosen else ""
    path.write_text(FILE_HEADER + body, encoding="utf-8")
    return path


def as_edit(previous: ProjectConfig, edited: ProjectConfig) -> ProjectConfig:
    """`edited` (e.g. rebuilt from a form that shows every setting) whose choices are those of `previous` plus
    what the edit changed, so saving it writes what the user chose and nothing more."""
    return parse_config(choices(edited, since=previous), "edited settings")


__all__ = [
    "PROJECT_FILE", "DataConfig", "EvaluationConfig", "FeedbackConfig", "FinetuneApiConfig", "MethodConfig",
    "ModelConfig", "ObjectiveConfig",
    "ProjectConfig", "Section", "ServeConfig", "TrainingConfig", "apply_overrides", "as_edit", "choices",
    "load_config", "parse_config", "save_config",
]
