"""OpenAI job parameters turned into tunesmith configuration (pure functions).

`"auto"` (or a missing value) means the project's own `training` setting; the learning-rate multiplier
scales the project's learning rate. The job records the values actually used, as OpenAI does.
Methods: `supervised` (SFT) and `dpo` (`training.objective: dpo`, its `beta` in `preference.dpo.beta`; the
training file holds OpenAI's DPO lines: input, preferred_output, non_preferred_output).
"""

from __future__ import annotations

import math
import re
import secrets
from pathlib import Path
from typing import Any

from tunesmith.config import ProjectConfig
from tunesmith.config.finetune_api import FinetuneApiConfig
from tunesmith.finetune_api.errors import OpenAIError, bad_request
from tunesmith.models.catalog import CATALOG

SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LIMITS = {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256), "learning_rate_multiplier": (float, 1e-3, 100.0)}
METHOD_LIMITS = {"supervised": LIMITS, "dpo": {**LIMITS, "beta": (float, 1e-3, 10.0)}}
METHODS = tuple(METHOD_LIMITS)
OBJECTIVES = {"supervised": "sft", "dpo": "dpo"}  # OpenAI's method -> training.objective


def requested_method(body: dict[str, Any]) -> str:
    """`method.type`: supervised (the default, as OpenAI's) or dpo."""
    kind = _object(body.get("method"), "method").get("type", "supervised")
    if kind not in METHODS:
        raise bad_request(f"method '{kind}' is not supported here; use one of: {', '.join(METHODS)}.",
                          "method.type", code="unsupported_method")
    return kind


def requested_hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters from `method.<type>.hyperparameters` or the older top-level `hyperparameters`."""
    kind = requested_method(body)
    section = _object(_object(body.get("method"), "method").get(kind), f"method.{kind}")
    nested = _object(section.get("hyperparameters"), f"method.{kind}.hyperparameters")
    return {**_object(body.get("hyperparameters"), "hyperparameters"), **nested}


def _object(value: Any, param: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"{param} must be an object.", param)
    return value


def _checked(name: str, value: Any, limits: dict = LIMITS) -> Any:
    if value in (None, "auto"):
        return "auto"
    kind, low, high = limits[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or (kind is int and value != int(value)):
        raise bad_request(f"hyperparameters.{name} must be 'auto' or a {kind.__name__}.", f"hyperparameters.{name}")
    if not low <= value <= high:
        raise bad_request(f"hyperparameters.{name} must be between {low} and {high}, got {value}.",
                          f"hyperparameters.{name}")
    return kind(value)


def resolve_hyperparameters(requested: dict[str, Any], config: ProjectConfig, method: str = "supervised",
                            ) -> dict[str, Any]:
    """The concrete values a job trains with, as reported back in `job.method.<type>.hyperparameters`."""
    limits = METHOD_LIMITS[method]
    unknown = set(requested) - set(limits)
    if unknown:
        raise bad_request(f"unknown hyperparameter '{sorted(unknown)[0]}' for method {method}; valid: "
                          f"{', '.join(limits)}.", "hyperparameters")
    checked = {name: _checked(name, requested.get(name), limits) for name in limits}
    training = _chat_training(config)
    epochs = checked["n_epochs"]
    resolved = {
        "n_epochs": epochs if epochs != "auto" else max(1, round(training.epochs)),
        "batch_size": checked["batch_size"] if checked["batch_size"] != "auto" else training.batch_size,
        "learning_rate_multiplier": 1.0 if checked["learning_rate_multiplier"] == "auto"
        else checked["learning_rate_multiplier"],
    }
    if method == "dpo":
        resolved["beta"] = config.preference.dpo.beta if checked["beta"] == "auto" else checked["beta"]
    return resolved


def training_config(config: ProjectConfig, base_model: str, hyper: dict[str, Any], seed: int,
                    train_examples: int, method: str = "supervised") -> ProjectConfig:
    """The project configuration with the job's model, method and hyperparameters applied.

    Validation (and so checkpointing) happens at least once per epoch, as OpenAI keeps per-epoch checkpoints.
    """
    data = config.model_dump(mode="json")
    data["objective"]["task"] = "chat"
    data["model"]["name"] = base_model
    data["training"]["objective"] = OBJECTIVES[method]
    if method == "dpo":
        data["preference"]["dpo"]["beta"] = hyper["beta"]
    training = _chat_training(config, train_examples)
    steps_per_epoch = max(1, math.ceil(train_examples / (hyper["batch_size"] * training.gradient_accumulation)))
    # OpenAI jobs are sized in epochs, so a project's step cap (e.g. from a quick preset) does not apply
    data["training"].update(epochs=float(hyper["n_epochs"]), batch_size=int(hyper["batch_size"]), seed=seed,
                            max_steps=None,
                            learning_rate=training.learning_rate * hyper["learning_rate_multiplier"],
                            eval_every=min(training.eval_every, steps_per_epoch))
    return ProjectConfig.model_validate(data)


def _chat_training(config: ProjectConfig, train_examples: int = 0):
    """The project's training settings with "auto" resolved for the chat task jobs train."""
    from tunesmith.config.auto import DataFacts, resolve_training

    return resolve_training(config.training, DataFacts("chat", train_examples))


def checked_suffix(suffix: Any) -> str | None:
    if suffix in (None, ""):
        return None
    if not isinstance(suffix, str) or not SUFFIX.match(suffix):
        raise bad_request("suffix must be 1-64 characters of letters, digits, '.', '_' or '-'.", "suffix")
    return suffix


def checked_seed(seed: Any) -> int:
    if seed is None:
        return secrets.randbelow(2**31)  # reported back on the job, so the run can be repeated
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise bad_request("'seed' must be an integer from 0 to 4294967295.", "seed")  # numpy's seed range
    return seed


def checked_metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None or (isinstance(metadata, dict) and len(metadata) <= 16 and all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in metadata.items())):
        return metadata
    raise bad_request("metadata must map at most 16 keys (≤ 64 characters) to strings (≤ 512 characters).",
                      "metadata")


def base_model_for(name: str, settings: FinetuneApiConfig) -> str:
    """The catalog model (or local folder) behind an OpenAI model name, or a 400 listing the choices."""
    if name in settings.model_map:
        target = settings.model_map[name]
        if target not in CATALOG and not (Path(target).expanduser() / "config.json").exists():
            raise OpenAIError(500, f"finetune_api.model_map sends '{name}' to '{target}', which is neither a catalog "
                              "model nor a Hugging Face folder on this machine; fix tunesmith.yaml.",
                              type="server_error", param="model", code="model_map_invalid")
        return target
    if name in CATALOG and CATALOG[name].kind == "causal-lm":
        return name
    choices = sorted(settings.model_map) + sorted(n for n, e in CATALOG.items() if e.kind == "causal-lm")
    raise bad_request(f"model '{name}' cannot be fine-tuned here. Choose one of: {', '.join(choices)} "
                      "(add more under finetune_api.model_map in tunesmith.yaml).", "model",
                      code="model_not_available")
