"""Full fine-tuning: every weight trains; the output is a complete model folder (safetensors)."""

from __future__ import annotations

from pathlib import Path

import torch

from tunesmith.methods import Method, register


def apply(model: torch.nn.Module, options, task: str) -> torch.nn.Module:
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def save(model: torch.nn.Module, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)


def load(base: torch.nn.Module, folder: Path) -> torch.nn.Module:
    # The folder is a whole model: `base` only supplies the class and loading options.
    return type(base).from_pretrained(folder, dtype=base.dtype, use_safetensors=True)


METHOD = register(Method(
    name="full", summary="Every weight trains: most capacity, most memory, largest output.",
    artifact="model", apply=apply, save=save, load=load))
