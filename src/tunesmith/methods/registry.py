"""What a fine-tuning method is, and the registry that finds every method module in this package.

A method module owns its whole contract: its options model (the flat `method:` section of tunesmith.yaml
when `name` is this method), its family, how it changes, saves and reloads a model, and its planner terms.
It calls `register(Method(...))` at import; `discover()` imports every public module of the package, so
adding a method is one new module (and its tests: tests/methods iterates the registry).

This module and the method modules import torch, transformers and PEFT only inside functions, so reading
a config (which needs the options models) stays light.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from tunesmith.plan.memory import StepShape
    from tunesmith.plan.shapes import ModelShape

CHAT_TASKS = frozenset({"chat", "text"})
ALL_TASKS = frozenset({"chat", "text", "classification"})
EMBEDDING_TASKS = ALL_TASKS | {"embedding"}  # methods tested on embedding encoders (full, lora)
# Sequence-classification heads are new weights every method must train (PEFT names them the same).
HEAD_NAMES = ("classifier", "score")


class Family(str, Enum):
    """How a method relates to the base model; the rest of tunesmith asks this, never a list of names."""

    # Low-rank updates saved as a standard PEFT LoRA folder: mergeable, and several runs' adapters load
    # side by side onto one copy of the base when serving.
    SHARED_BASE = "adapter on a shared base"
    # New layers or scales inside a frozen base (IA3, bottleneck adapters): one base copy per run when serving.
    INSERTED = "layers inserted in a frozen base"
    # Every weight trains; the result is a complete model folder.
    WHOLE_MODEL = "whole model"
    # Learned positions in front of the input (prefix, prompt tuning): the full model forward is required.
    VIRTUAL_TOKENS = "virtual tokens"


class MethodOptions(BaseModel):
    """Base of every method's options model. Each subclass declares `name: Literal["<method>"]` first.

    Unknown keys are refused here; `tunesmith.config.method` turns them into one line naming the nearest key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    name: str  # declared here so that `name` comes first in every dump; each subclass narrows it to a Literal

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(k for k in cls.model_fields if k != "name")

    def options(self) -> dict:
        """The options this method uses, with defaults filled in."""
        return {key: getattr(self, key) for key in self.option_names()}


class Costs:
    """The planner's terms for a method (pure functions; tunesmith.plan adds the shared base terms).

    `shape` is a plan.shapes.ModelShape, `step` a plan.memory.StepShape. The defaults describe a frozen
    base with nothing added, so a method overrides only what it changes.
    """

    def trainable(self, shape: ModelShape, options: Any) -> int:
        """Parameters that get gradients and optimizer state (a classification head is added by the planner)."""
        raise NotImplementedError

    def saved_floats(self, shape: ModelShape, options: Any, seq_len: int) -> float:
        """Values autograd keeps per token and block beyond a frozen base block's."""
        return 0.0

    def flops(self, shape: ModelShape, options: Any, step: StepShape) -> float:
        """Matmul FLOPs per micro-batch beyond a frozen base's forward and input-gradient backward."""
        return 0.0

    def elementwise(self, shape: ModelShape, options: Any, step: StepShape) -> float:
        """Memory-bound values touched per micro-batch beyond the saved activations."""
        return 0.0

    def weight_bytes(self, shape: ModelShape, options: Any, total: int, width: int) -> float:
        """Bytes the base weights take (4-bit bases store their linear layers in less)."""
        return float(total * width)

    def buffer_bytes(self, shape: ModelShape, options: Any, width: int) -> float:
        """Fixed buffers the method keeps alive during a step (DoRA's weight norms)."""
        return 0.0


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    options: type[MethodOptions]
    family: Family
    apply: Callable[[torch.nn.Module, Any, str], torch.nn.Module]
    save: Callable[[torch.nn.Module, Path], None]
    load: Callable[[torch.nn.Module, Path], torch.nn.Module]
    costs: Costs
    tasks: frozenset[str] = ALL_TASKS
    merge: Callable[[torch.nn.Module], torch.nn.Module] | None = None  # fold into base weights, if defined
    encoder_classification: bool = True  # usable on encoder classifiers
    decoder_classification: bool = True  # usable on decoder (causal LM) classifiers
    # Extra from_pretrained arguments when the base is loaded for training, given its options and the base's
    # config: config values (full: dropout) or loading options (qlora: quantization_config). Loading a
    # finished run never uses them.
    load_overrides: Callable[[Any, object], dict] | None = None
    # Options that size the method like a LoRA of rank r (presets, tuning): None when rank means nothing here.
    rank_options: Callable[[int], dict] | None = None
    # A context in which the trained model computes what its base computes (the adapter switched off): the
    # reference model of preference objectives without a second copy. None for whole-model methods.
    base_only: Callable[[torch.nn.Module], contextlib.AbstractContextManager] | None = None
    # Built on the PEFT library: a run imports it, ~0.1 GB of resident memory the planner charges (calibrated)
    peft: bool = True

    @property
    def artifact(self) -> str:
        """The run folder's result: `model/` (complete model) or `adapter/` (small, needs the base model)."""
        return "model" if self.family is Family.WHOLE_MODEL else "adapter"

    @property
    def virtual_tokens(self) -> bool:
        """Prepends learned positions: the loop must call the full model forward."""
        return self.family is Family.VIRTUAL_TOKENS

    @property
    def trains_base(self) -> bool:
        return self.family is Family.WHOLE_MODEL


REGISTRY: dict[str, Method] = {}
_discovered = False


def register(method: Method) -> Method:
    declared = method.options.model_fields["name"].default
    if declared != method.name:
        raise ValueError(f"method {method.name}: its options model names itself '{declared}'")
    REGISTRY[method.name] = method
    return method


def discover() -> dict[str, Method]:
    """Import every public module of tunesmith.methods once; each method module registers itself."""
    global _discovered
    if not _discovered:
        package = importlib.import_module("tunesmith.methods")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.name.startswith("_") and info.name != "registry":
                importlib.import_module(f"tunesmith.methods.{info.name}")
        _discovered = True
    return REGISTRY
