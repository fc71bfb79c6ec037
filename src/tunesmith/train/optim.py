"""Optimizer and learning-rate schedule. The schedule is a pure function of the step, so resuming needs
no scheduler state."""

from __future__ import annotations

import math

import torch

from tunesmith.config.training import AUTO, TrainingConfig
from tunesmith.errors import ConfigError


def peak_rate(config: TrainingConfig) -> float:
    """The schedule's peak rate; an "auto" rate must have been resolved from the data first."""
    if config.learning_rate == AUTO:
        raise ConfigError("training.learning_rate is still \"auto\": it is chosen from the data when training "
                          "starts", "Resolve the config with tunesmith.config.auto.resolve_training (run_training "
                          "does), or set training.learning_rate to a number.")
    return float(config.learning_rate)


def build_optimizer(model: torch.nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # Biases and norm scales are not decayed (standard practice: decay would only shrink them).
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if config.optimizer == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(groups, lr=peak_rate(config), scale_parameter=False, relative_step=False,
                         warmup_init=False)
    return torch.optim.AdamW(groups, lr=peak_rate(config), fused=True)


def learning_rate(step: int, total_steps: int, config: TrainingConfig) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup, then cosine/linear/constant."""
    peak, warmup = peak_rate(config), int(config.warmup_ratio * total_steps)
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    if config.scheduler == "constant":
        return peak
    progress = (step - warmup) / max(1, total_steps - warmup)
    if config.scheduler == "linear":
        return peak * max(0.0, 1 - progress)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
