"""Check the cached calibration against the first steps of a real training run.

`first_steps_check` gives the training loop a step callback that times optimizer steps 2 to
1 + `CHECKED_STEPS` in CPU seconds (step 1 pays one-off costs; a step after a validation is left out) and
compares them with what the cached calibration predicts for those very micro-batches. `record_check` keeps
the result beside the calibration; a disagreement beyond `calibrate.DISAGREEMENT` makes the next plan
measure the machine again. Without a cached calibration it does nothing: a run never waits for one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.plan.calibrate import Calibration, cached_calibration, record_check
from tunesmith.plan.memory import StepShape
from tunesmith.plan.speed import step_seconds, thread_speedup

CHECKED_STEPS = 4


class FirstSteps:
    """A step callback: CPU seconds of the first steps against `predicted` (CPU seconds of steps 1, 2, ...)."""

    def __init__(self, predicted: Sequence[float], eval_every: int, record: Callable[[float, float], object],
                 clock: Callable[[], float] = time.process_time):
        self.predicted, self.eval_every, self.record, self.clock = list(predicted), eval_every, record, clock
        self.timed: list[tuple[float, float]] = []  # (predicted, measured) per checked step
        self.last: float | None = None
        self.done = False

    def __call__(self, row: dict) -> None:
        now, step = self.clock(), row["step"]
        previous, self.last = self.last, now
        if self.done or previous is None or step < 2 or (step - 1) % self.eval_every == 0:
            return
        if step > len(self.predicted):
            self.done = True
            return
        self.timed.append((self.predicted[step - 1], now - previous))
        if len(self.timed) == CHECKED_STEPS:
            self.done = True
            self.record(sum(p for p, _ in self.timed), sum(m for _, m in self.timed))


def predicted_cpu_seconds(calibration: Calibration, config, micro_batches: Sequence[Sequence[Sequence[int]]],
                          threads: int, labels: int = 0) -> list[float]:
    """CPU seconds the calibration predicts for each optimizer step, given each step's micro-batches as the
    token lengths and loss targets of their examples: `[[(length, targets), ...], ...]` per step. With
    several threads all of them are busy during the step, so CPU time is threads × the predicted wall time."""
    from tunesmith.plan.shapes import model_shape
    from tunesmith.plan.trainable import trainable_params

    shape = model_shape(config.model.name)
    trainable = trainable_params(shape, config.method, labels)
    per_thread = max(1, threads) / thread_speedup(threads)
    steps = []
    for micros in micro_batches:
        seconds = 0.0
        for micro in micros:
            step = StepShape(len(micro), max(n for n, _ in micro), sum(t for _, t in micro))
            seconds += step_seconds(shape, config.method, step, trainable, calibration.rates,
                                    config.training.gradient_checkpointing)
        steps.append(seconds * per_thread)
    return steps


def first_steps_check(config, examples: Sequence, steps: Sequence, labels: int = 0, threads: int | None = None,
                      path: Path | None = None) -> FirstSteps | None:
    """The callback for a fresh single-process run of `config` whose first optimizer steps are `steps`
    (train.batching.Step, indices into `examples`); None without a cached calibration, on a GPU, for
    objectives the planner does not model, with torch.compile (whose first steps compile), with the
    allocator bounded (training.release_memory: its page faults are not in the time model) and in bfloat16
    (training.mixed_precision: the time model is float32's)."""
    import torch

    if config.training.objective != "sft" or config.training.compile or torch.cuda.is_available():
        return None
    # the bounded allocator's page faults and bfloat16 are not in the time model: no false alarm
    if config.training.release_memory is True or config.training.mixed_precision != "no":
        return None
    calibration = cached_calibration(path)
    if calibration is None:
        return None
    threads = threads or torch.get_num_threads()
    shapes = [[[(len(examples[i]), examples[i].targets) for i in micro] for micro in step.micro_batches if micro]
              for step in steps[:CHECKED_STEPS + 1]]
    try:
        predicted = predicted_cpu_seconds(calibration, config, shapes, threads, labels)
    except TunesmithError:  # a model the planner cannot describe (config.json without its sizes): no check
        return None
    return FirstSteps(predicted, config.training.eval_every,
                      lambda p, m: record_check(p, m, path))
