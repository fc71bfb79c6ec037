"""Training objectives, one module each (sft, dpo with its IPO variant, kto, orpo, simpo), found by discovery.

The loop trains every objective the same way (summed loss per micro-batch, divided by the step's example
count); an objective brings its examples, collation and loss (see training.py and losses.py).
"""

from __future__ import annotations

from tunesmith.errors import ConfigError
from tunesmith.objectives.registry import Objective, ObjectiveOptions, discover, register

__all__ = ["Objective", "ObjectiveOptions", "all_objectives", "get_objective", "register"]


def get_objective(name: str) -> Objective:
    objectives = discover()
    if name not in objectives:
        raise ConfigError(f"unknown objective '{name}'", f"Choose one of: {', '.join(sorted(objectives))}.")
    return objectives[name]


def all_objectives() -> list[Objective]:
    return list(discover().values())
