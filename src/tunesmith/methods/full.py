"""Full fine-tuning: every weight trains; the output is a complete model folder (safetensors).

`method.model_dropout` (regularization) sets every dropout field of the base model's config when it is
loaded for training, so the architecture builds its own dropout layers with that probability. The saved
model keeps the base checkpoint's values: dropout is a training setting, not part of the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tunesmith.config.base import Switch
from tunesmith.methods.low_rank import blocks_flops
from tunesmith.methods.registry import EMBEDDING_TASKS, Costs, Family, Method, MethodOptions, register
from tunesmith.progress import console

if TYPE_CHECKING:
    from pathlib import Path

    import torch


class FullOptions(MethodOptions):
    name: Literal["full"] = Field("full", description="Every weight trains.")
    model_dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="Dropout set on every dropout field of the model's config (attention, "
        "hidden, embedding, classifier: whichever the architecture has) while training; empty keeps the "
        "checkpoint's own values.")
    train_embeddings: Switch = Field(
        "auto", description="Whether the token-embedding matrix trains. auto: not when an encoder learns to "
        "classify, where it is half of minilm-l6's weights (its gradient and AdamW state are 0.14 GB) and a "
        "training set moves only the rows of its own tokens, away from the rest; yes otherwise (chat "
        "models tie it to their output layer).")


class FullCosts(Costs):
    def trainable(self, shape, options) -> int:
        return shape.total_params  # (an encoder classifier's frozen embeddings: plan/trainable.py)

    def saved_floats(self, shape, options, seq_len) -> float:
        return 2 * shape.hidden if shape.kind == "causal-lm" else 0.0  # inputs kept for the weight gradients

    def flops(self, shape, options, step) -> float:
        weight_gradients = blocks_flops(shape, step)
        if shape.kind == "causal-lm":
            weight_gradients += 2.0 * step.targets * shape.hidden * shape.vocab  # the vocabulary head's
        return weight_gradients


def dropout_fields(config) -> dict[str, float]:
    """The config's dropout probabilities: Llama `attention_dropout`, BERT `hidden_dropout_prob`, GPT-2
    `resid_pdrop`/`embd_pdrop`/`attn_pdrop`, `classifier_dropout` when set, T5 `dropout_rate`, ..."""
    fields = {}
    for key, value in config.to_dict().items():
        probability = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1
        if probability and ("dropout" in key or key.endswith("pdrop")):
            fields[key] = float(value)
    return fields


def load_overrides(options, config) -> dict:
    if options.model_dropout is None:
        return {}
    fields = dropout_fields(config)
    if not fields:
        console.print(f"[yellow]warning:[/yellow] method.model_dropout={options.model_dropout} has no effect: "
                      f"the {config.model_type} architecture's config has no dropout fields")
        return {}
    console.print(f"full: dropout {options.model_dropout} on {', '.join(fields)}")
    return dict.fromkeys(fields, options.model_dropout)


def frozen_embeddings(options, task: str | None, kind: str) -> bool:
    """Whether the token embeddings stay frozen under method full (`options` of any method: only full has the
    setting); training (train/setup.py) and the planner's count (plan/trainable.py) both ask here."""
    chosen = getattr(options, "train_embeddings", True)
    return chosen is False or (chosen == "auto" and task == "classification" and kind == "encoder")


def apply(model: torch.nn.Module, options, task: str) -> torch.nn.Module:
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def save(model: torch.nn.Module, folder: Path) -> None:
    trained = dropout_fields(model.config)
    base = _base_dropout(model)
    restore = {key: base[key] for key in trained if key in base and base[key] != trained[key]}
    model.config.update(restore)
    try:
        model.save_pretrained(folder, safe_serialization=True)
    finally:
        model.config.update({key: trained[key] for key in restore})


def _base_dropout(model: torch.nn.Module) -> dict[str, float]:
    """The dropout values of the checkpoint the model was loaded from ({} when it cannot be read)."""
    try:
        return dropout_fields(type(model.config).from_pretrained(model.config.name_or_path))
    except (OSError, ValueError):
        return {}


def load(base: torch.nn.Module, folder: Path) -> torch.nn.Module:
    # The folder is a whole model: `base` only supplies the class and loading options.
    return type(base).from_pretrained(folder, dtype=base.dtype, use_safetensors=True)


METHOD = register(Method(
    name="full", summary="Every weight trains (an encoder classifier's token embeddings excepted): most capacity, "
    "most memory, largest output.",
    options=FullOptions, family=Family.WHOLE_MODEL, apply=apply, save=save, load=load, costs=FullCosts(),
    load_overrides=load_overrides, tasks=EMBEDDING_TASKS, peft=False))
