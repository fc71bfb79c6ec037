"""Fine-tuning methods, one module each, found by `registry.discover()`. The training loop only talks to a `Method`.

A method turns a loaded base model into a trainable one, saves what it learned, and loads it back onto a
fresh base model; its module also holds its options model, family and planner terms (see registry.py).
The test matrix in tests/methods iterates the registry, so a new module is tested by adding it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.errors import ConfigError
from tunesmith.methods.registry import (
    ALL_TASKS,
    CHAT_TASKS,
    HEAD_NAMES,
    Costs,
    Family,
    Method,
    MethodOptions,
    discover,
    register,
)

if TYPE_CHECKING:
    import torch

__all__ = ["ALL_TASKS", "CHAT_TASKS", "HEAD_NAMES", "Costs", "Family", "Method", "MethodOptions", "all_methods",
           "check_supported", "count_parameters", "get_method", "register", "trainable_state"]


def get_method(name: str) -> Method:
    methods = discover()
    if name not in methods:
        raise ConfigError(f"unknown method '{name}'", f"Choose one of: {', '.join(sorted(methods))}.")
    return methods[name]


def all_methods() -> list[Method]:
    return list(discover().values())


def check_supported(method: Method, task: str, model_kind: str) -> None:
    """Refuse combinations that cannot train, with one line naming the methods that can."""
    if task not in method.tasks:
        able = [m.name for m in all_methods() if task in m.tasks]
        raise ConfigError(f"method '{method.name}' does not support the '{task}' task",
                          f"Use method.name: {', '.join(able)} in tunesmith.yaml.")
    if task == "classification":
        ok = method.decoder_classification if model_kind == "causal-lm" else method.encoder_classification
        if not ok:
            attr = "decoder_classification" if model_kind == "causal-lm" else "encoder_classification"
            able = [m.name for m in all_methods() if task in m.tasks and getattr(m, attr)]
            raise ConfigError(f"method '{method.name}' cannot train a {model_kind} classifier",
                              f"Use method.name: {', '.join(able)} in tunesmith.yaml.")


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
