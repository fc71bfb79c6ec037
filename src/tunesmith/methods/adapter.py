"""Bottleneck adapters (Houlsby/Pfeiffer style): a small down-project → non-linearity → up-project
block with a residual, after the feed-forward part of every transformer layer.

No maintained library fits beside transformers 5 (AdapterHub's `adapters` pins transformers 4), so
this is our own module. The up-projection starts at zero, so training starts from the base model.
Saved as `adapter/bottleneck_model.safetensors` + `adapter/bottleneck_config.json`; `load()`
rebuilds the blocks on a fresh base model and restores the weights.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tunesmith.errors import TunesmithError
from tunesmith.methods.low_rank import adapter_dropout_floats
from tunesmith.methods.registry import HEAD_NAMES, Costs, Family, Method, MethodOptions, register

if TYPE_CHECKING:
    from pathlib import Path

    import torch

CONFIG_FILE = "bottleneck_config.json"
WEIGHTS_FILE = "bottleneck_model.safetensors"
# Feed-forward outputs: `layers.N.mlp` in Llama-like decoders, `layer.N.output.dense` in BERT-like encoders.
TARGET_PATTERNS = (r"layers\.\d+\.mlp$", r"layer\.\d+\.output\.dense$", r"h\.\d+\.mlp$")


class AdapterOptions(MethodOptions):
    name: Literal["adapter"] = Field("adapter", description="Bottleneck adapters after each feed-forward block.")
    bottleneck_size: int = Field(64, ge=1, description="Width of the down-projection.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout inside the adapter.")
    activation: Literal["gelu", "relu", "silu", "tanh"] = Field("gelu", description="The adapter's non-linearity.")


class AdapterCosts(Costs):
    def trainable(self, shape, options) -> int:
        b = options.bottleneck_size
        return shape.layers * (2 * shape.hidden * b + b + shape.hidden)

    def saved_floats(self, shape, options, seq_len) -> float:
        floats = 2 * options.bottleneck_size + shape.hidden
        return floats + (adapter_dropout_floats(shape) if options.dropout > 0 else 0.0)


def _targets(model: torch.nn.Module) -> list[str]:
    names = [n for n, _ in model.named_modules() if any(re.search(p, n) for p in TARGET_PATTERNS)]
    if not names:
        raise TunesmithError(f"no feed-forward blocks found for bottleneck adapters in {type(model).__name__}",
                             "Use method.name: lora for this architecture.")
    return names


def insert(model: torch.nn.Module, size: int, activation: str, dropout: float) -> list[str]:
    from tunesmith.methods._bottleneck import Bottleneck, WithBottleneck

    width = model.config.hidden_size
    names = _targets(model)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, WithBottleneck(getattr(parent, child), Bottleneck(width, size, activation, dropout)))
    return names


def _is_own(name: str) -> bool:
    return ".adapter." in name or name.split(".")[0] in HEAD_NAMES


def apply(model: torch.nn.Module, options, task: str) -> torch.nn.Module:
    for param in model.parameters():
        param.requires_grad_(False)
    names = insert(model, options.bottleneck_size, options.activation, options.dropout)
    for name, param in model.named_parameters():
        param.requires_grad_(_is_own(name))
    model.tunesmith_bottleneck = {"bottleneck_size": options.bottleneck_size, "activation": options.activation,
                                  "dropout": options.dropout, "targets": names}
    return model


def save(model: torch.nn.Module, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = {n: p.detach().contiguous() for n, p in model.named_parameters() if _is_own(n)}
    save_file(weights, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    config = {"method": "bottleneck-adapter", "base_model_name_or_path": model.config.name_or_path,
              **model.tunesmith_bottleneck}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def load(base: torch.nn.Module, folder: Path) -> torch.nn.Module:
    from safetensors.torch import load_file

    config = json.loads((folder / CONFIG_FILE).read_text())
    insert(base, config["bottleneck_size"], config["activation"], config["dropout"])
    weights = load_file(str(folder / WEIGHTS_FILE))
    missing = [n for n, _ in base.named_parameters() if _is_own(n) and n not in weights]
    unexpected = set(weights) - {n for n, _ in base.named_parameters()}
    if missing or unexpected:
        raise TunesmithError(f"{folder / WEIGHTS_FILE} does not match the base model "
                             f"(missing {missing[:3]}, unexpected {sorted(unexpected)[:3]})",
                             "Load it onto the base model it was trained from (see bottleneck_config.json).")
    base.load_state_dict(weights, strict=False)
    base.tunesmith_bottleneck = config
    return base


@contextlib.contextmanager
def base_only(model: torch.nn.Module) -> Iterator[None]:
    from tunesmith.methods._bottleneck import WithBottleneck

    blocks = [m for m in model.modules() if isinstance(m, WithBottleneck)]
    for block in blocks:
        block.enabled = False
    try:
        yield
    finally:
        for block in blocks:
            block.enabled = True


METHOD = register(Method(
    name="adapter", summary="Bottleneck adapters after each feed-forward block (down, non-linearity, up, residual).",
    options=AdapterOptions, family=Family.INSERTED, apply=apply, save=save, load=load, costs=AdapterCosts(),
    base_only=base_only, peft=False))
