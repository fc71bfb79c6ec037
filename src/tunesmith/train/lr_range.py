"""The learning-rate range test behind `training.learning_rate: auto` (classification).

A few optimizer steps with the learning rate growing geometrically from the sweep's low to its high end,
on the training data; the chosen rate is a tenth of the one where the smoothed loss was lowest (Smith 2017,
"Cyclical Learning Rates"; the rule fastai's lr_find popularised): past that point the steps are too large
to keep lowering the loss. When the head starts fitted (the pooled recipe) the lowest point's rate itself
(config/auto.py: `RangeTest.backoff`). The weights are put back afterwards, so training starts from the model as loaded;
only the time spent remains. `pick_learning_rate` is the pure part.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from tunesmith.config.auto import RangeTest
from tunesmith.config.training import TrainingConfig

SMOOTHING = 0.8  # exponential moving average of the step losses (bias-corrected)
MIN_DROP = 0.03  # the lowest smoothed loss must be this share below the first, or the sweep found nothing
DIVERGED = 4.0  # the sweep stops once the smoothed loss exceeds this multiple of its lowest value


@dataclass(frozen=True)
class RangeTestResult:
    learning_rate: float
    steps: int
    seconds: float
    measured: bool  # False: no step lowered the loss, so the sweep's fallback was taken

    def to_json(self) -> dict:
        return {"learning_rate": self.learning_rate, "steps": self.steps, "seconds": round(self.seconds, 2),
                "measured": self.measured}


def sweep(low: float, high: float, steps: int) -> list[float]:
    ratio = (high / low) ** (1 / max(1, steps - 1))
    return [low * ratio ** i for i in range(steps)]


def smoothed(losses: list[float]) -> list[float]:
    out, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        out.append(average / (1 - SMOOTHING ** i))
    return out


def pick_learning_rate(rates: list[float], losses: list[float], backoff: float = 10.0) -> float | None:
    """The rate at the lowest smoothed loss divided by `backoff` (a tenth by default; pure); None when the loss
    never fell clearly below its start. `losses` may be shorter than `rates` (the sweep stopped when the loss
    blew up)."""
    curve = smoothed([loss for loss in losses if math.isfinite(loss)][:len(rates)])
    if len(curve) < 2:
        return None
    best = min(range(len(curve)), key=curve.__getitem__)
    if curve[best] > (1 - MIN_DROP) * curve[0]:  # noise, not descent: no rate to read off this curve
        return None
    return max(rates[0], rates[best] / backoff)


def find_learning_rate(model: torch.nn.Module, batches, test: RangeTest, training: TrainingConfig, step_fn,
                       steps: int) -> RangeTestResult:
    """Run the sweep with a throwaway optimizer, restore the trainable weights, return the chosen rate.
    `step_fn(model, params, optimizer, step) -> loss` is one optimizer step of the training loop."""
    from tunesmith.train.optim import build_optimizer

    started = time.perf_counter()
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    optimizer = build_optimizer(model, training.model_copy(update={"learning_rate": test.low}))
    order = batches.epoch(0)
    rates, losses = sweep(test.low, test.high, steps), []
    was_training = model.training
    model.train()
    for i, rate in enumerate(rates):
        for group in optimizer.param_groups:
            group["lr"] = rate
        loss = step_fn(model, params, optimizer, order[i % len(order)])
        losses.append(loss)
        curve = smoothed(losses)
        if not math.isfinite(loss) or curve[-1] > DIVERGED * min(curve):
            break
    with torch.no_grad():
        for param, value in zip(params, saved, strict=True):
            param.copy_(value)
    model.train(was_training)
    del optimizer
    chosen = pick_learning_rate(rates, losses, test.backoff)
    if chosen is not None and test.ceiling is not None:
        chosen = min(chosen, test.ceiling)
    return RangeTestResult(chosen if chosen is not None else test.fallback, len(losses),
                           time.perf_counter() - started, chosen is not None)
