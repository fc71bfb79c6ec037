"""Fine-tuning methods, registered by name. The training loop only talks to a `Method`.

A method turns a loaded base model into a trainable one, saves what it learned, and loads it back
onto a fresh base model. Adding a method is one module that calls `register()`, plus its options in
`tunesmith.config.method.METHOD_OPTIONS`; the test matrix in tests/methods iterates this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from tunesmith.config.method import METHOD_OPTIONS, MethodConfig
from tunesmith.errors import ConfigError

CHAT_TASKS = frozenset({"chat", "text"})
ALL_TASKS = frozenset({"chat", "text", "classification"})
# Sequence-classification heads are new weights every method must train (PEFT names them the same).
HEAD_NAMES = ("classifier", "score")


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    artifact: str  # "adapter" (small, needs the base model) or "model" (a complete model folder)
    apply: Callable[[torch.nn.Module, MethodConfig, str], torch.nn.Module]
    save: Callable[[torch.nn.Module, Path], None]
    load: Callable[[torch.nn.Module, Path], torch.nn.Module]
    tasks: frozenset[str] = ALL_TASKS
    merge: Callable[[torch.nn.Module], torch.nn.Module] | None = None  # fold into base weights, if defined
    virtual_tokens: bool = False  # prepends learned positions: the loop must call the full model forward
    encoder_classification: bool = True  # usable on encoder classifiers
    decoder_classification: bool = True  # usable on decoder (causal LM) classifiers
    # Extra from_pretrained arguments when the base is loaded for training, given its config: config values
    # (full: dropout) or loading options (qlora: quantization_config). Loading a finished run never uses them.
    load_overrides: Callable[[MethodConfig, object], dict] | None = None


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name not in METHOD_OPTIONS:
        raise ValueError(f"method {method.name} has no options entry in tunesmith.config.method")
    REGISTRY[method.name] = method
    return method


def get_method(name: str) -> Method:
    _load_builtin()
    if name not in REGISTRY:
        raise ConfigError(f"unknown method '{name}'", f"Choose one of: {', '.join(sorted(REGISTRY))}.")
    return REGISTRY[name]


def all_methods() -> list[Method]:
    _load_builtin()
    return list(REGISTRY.values())


def check_supported(method: Method, task: str, model_kind: str) -> None:
    """Refuse combinations that cannot train, with one line naming an alternative."""
    if task not in method.tasks:
        raise ConfigError(f"method '{method.name}' does not support the '{task}' task",
                          "Use method.name: lora (or full, dora, ia3, adapter) in tunesmith.yaml.")
    if task == "classification":
        ok = method.decoder_classification if model_kind == "causal-lm" else method.encoder_classification
        if not ok:
            raise ConfigError(f"method '{method.name}' cannot train a {model_kind} classifier",
                              "Use method.name: lora (or full, ia3, adapter) in tunesmith.yaml.")


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, each shared tensor counted once."""
    seen: set[int] = set()
    trainable = total = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        count = _values(param)
        total += count
        trainable += count if param.requires_grad else 0
    return trainable, total


def _values(param: torch.Tensor) -> int:
    """Weights a parameter holds: a bitsandbytes 4-bit tensor packs two per byte of its storage."""
    if type(param).__name__ == "Params4bit":
        return param.numel() * 2 * param.element_size()
    return param.numel()


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def _load_builtin() -> None:
    from tunesmith.methods import adapter, dora, full, ia3, lora, prefix, prompt, qlora  # noqa: F401
