"""What a training objective is, and the registry that finds every objective module in this package.

An objective decides what an example is (a demonstration, a chosen/rejected pair, a rated answer), which
loss the one training loop minimises on it, and what the planner must count (sequences per example,
forward-only reference passes). Its options live in the `preference.<name>` section of tunesmith.yaml;
`training.objective` names it. Modules import torch only inside functions, so reading a config stays light.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

# demonstrations: chat records (SFT); pairs: a prompt with a chosen and a rejected answer; ratings: a prompt
# with one answer marked desirable or not (KTO)
DataKind = Literal["demonstrations", "pairs", "ratings"]


class ObjectiveOptions(BaseModel):
    """Base of every preference objective's options (`preference.<name>`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        # config.base.Section's rule; not imported from there because config imports this package
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    guess = difflib.get_close_matches(str(key), list(cls.model_fields), n=1, cutoff=0.5)
                    tip = f" Did you mean '{guess[0]}'?" if guess else ""
                    raise ValueError(f"unknown key '{key}'.{tip} Valid keys: {', '.join(cls.model_fields)}")
        return data


@dataclass(frozen=True)
class Objective:
    name: str
    summary: str
    data: DataKind
    options: type[ObjectiveOptions] | None  # None: no options of its own (sft)
    # loss(logps, options) -> (per-example losses, chosen rewards, rejected rewards); pure (see losses.py)
    loss: Callable[[Any, Any], tuple] | None = None
    reference: bool = False  # needs the reference model's log-probs (computed once, before training)
    kl_pass: bool = False  # one forward pass without gradients per step on mismatched answers (KTO's baseline)

    @property
    def sequences(self) -> int:
        """Sequences trained per example (a pair trains its chosen and its rejected answer)."""
        return 2 if self.data == "pairs" else 1


REGISTRY: dict[str, Objective] = {}
_discovered = False


def register(objective: Objective) -> Objective:
    REGISTRY[objective.name] = objective
    return objective


def discover() -> dict[str, Objective]:
    """Import every public module of tunesmith.objectives once; each objective module registers itself."""
    global _discovered
    if not _discovered:
        package = importlib.import_module("tunesmith.objectives")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.name.startswith("_") and info.name != "registry":
                importlib.import_module(f"tunesmith.objectives.{info.name}")
        _discovered = True
    return REGISTRY
