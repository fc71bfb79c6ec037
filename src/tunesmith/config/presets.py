"""The beginner presets, one table for `tunesmith train --preset` and the studio's Model page.

A preset is a partial config derived from the data size and the machine: quick is one short pass to see
the pipeline work; balanced the usual recipe with early stopping; thorough more epochs, a larger adapter
and patient early stopping. The chosen method is kept; methods sized by a rank (`Method.rank_options`)
get the preset's rank, and a whole-model method a tenth of the learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tunesmith.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    label: str  # what the studio shows
    rank: int
    learning_rate: float
    early_stopping_patience: int | None

    def epochs(self, train_examples: int) -> float:
        small = train_examples < 2000
        return {"quick": 1.0, "balanced": 3.0 if small else 2.0, "thorough": 6.0 if small else 4.0}[self.name]


PRESETS = {p.name: p for p in (
    Preset("quick", "Quick try (minutes, to check everything works)", 8, 3e-4, None),
    Preset("balanced", "Balanced (recommended)", 16, 2e-4, 3),
    Preset("thorough", "Thorough (more passes, stops when it stops improving)", 32, 1e-4, 4),
)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'", f"Use --preset {', '.join(PRESETS)}.")
    return PRESETS[name]


def preset_overrides(name: str, train_examples: int, cpu_cores: int, method: str = "lora") -> dict[str, dict]:
    """The preset as a partial config (sections of keys) to merge over the project's."""
    from tunesmith.methods import get_method

    preset, chosen = get_preset(name), get_method(method)
    batch = 4 if cpu_cores <= 4 else 8
    steps_per_epoch = max(1, math.ceil(train_examples / batch))
    training: dict = {"epochs": preset.epochs(train_examples), "batch_size": batch, "max_steps": None,
                      "eval_every": max(5, steps_per_epoch // 4), "learning_rate": preset.learning_rate,
                      "early_stopping_patience": preset.early_stopping_patience}
    if preset.name == "quick":
        steps = min(steps_per_epoch, 60 if cpu_cores <= 4 else 200)
        training.update(max_steps=steps, eval_every=max(5, steps // 2))
    if preset.name == "thorough":
        training["weight_decay"] = 0.01
    if chosen.trains_base:
        training["learning_rate"] /= 10
    overrides: dict[str, dict] = {"training": training}
    if chosen.rank_options is not None:
        overrides["method"] = {"name": method, **chosen.rank_options(preset.rank)}
    return overrides


def merge(base: dict, extra: dict) -> dict:
    """`extra`'s sections over `base` (a config dump), key by key."""
    for key, value in extra.items():
        base[key] = merge(base.get(key) or {}, value) if isinstance(value, dict) else value
    return base
