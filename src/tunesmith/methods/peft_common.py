"""What every method built on PEFT shares: task types, saving in PEFT format, loading, merging, base-only runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import torch


def task_type(task: str):
    from peft import TaskType

    if task == "embedding":
        return TaskType.FEATURE_EXTRACTION
    return TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM


def wrap(model: torch.nn.Module, peft_config) -> torch.nn.Module:
    from peft import get_peft_model

    return get_peft_model(model, peft_config)


def save(model: torch.nn.Module, folder: Path) -> None:
    # Standard PEFT folder (adapter_config.json + adapter_model.safetensors): loadable by
    # PeftModel.from_pretrained without tunesmith, and by serving stacks that take LoRA folders.
    model.save_pretrained(folder, safe_serialization=True)


def load(base: torch.nn.Module, folder: Path) -> torch.nn.Module:
    from peft import PeftModel

    return PeftModel.from_pretrained(base, folder, is_trainable=False)


def merge(model: torch.nn.Module) -> torch.nn.Module:
    return model.merge_and_unload()


@contextlib.contextmanager
def base_only(model: torch.nn.Module) -> Iterator[None]:
    """Every PEFT tuner (LoRA, DoRA, IA3, prefix, prompt) runs the bare base inside disable_adapter()."""
    with model.disable_adapter():
        yield
