"""The memory savers training turns on by itself: activation checkpointing and the bounded C allocator.

Both cost time (SmolLM2-135M LoRA, 200 quickstart chats, 2 threads: checkpointing ~1.7× the wall time,
bench/results/train_throughput.md; the bounded allocator ~1.6× per step, bench/results/train_memory.md), and
both matter only when memory is short. So `training.gradient_checkpointing: auto` and
`training.release_memory: auto` are decided together, before the model loads, from the machine's available
memory: the fastest combination whose predicted peak stays within HEADROOM of it, else the leanest. The
prediction is the planner's memory model (plan/memory.py) at the worst micro-batch the settings allow
(`batch_size` sequences of `model.max_length` tokens, every position with loss), so real data, which is
shorter, only ever lands below it. Checkpointing is a candidate only where config/auto.py's rule allows it
(adapters on a language model); an explicit true/false is kept. `tunesmith plan` calls the same function.
"""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.config import ProjectConfig
from tunesmith.config.auto import DataFacts, checkpointing, classification_batch_size
from tunesmith.config.training import AUTO

HEADROOM = 0.5  # of the memory available at start: the rest is the user's browser, validation, saves
# the process itself, when no calibration of this machine is cached (measured 2026-12-07: 0.44 GB, and 0.10 GB
# more for a method built on PEFT)
DEFAULT_BASELINE, DEFAULT_PEFT_BASELINE = 0.44e9, 0.10e9
# (checkpointing, release) from fastest to leanest: recomputation costs about what the page faults cost,
# and keeps far less (quickstart worst case: 5.2 GB against 6.6 GB)
ORDER = ((False, False), (True, False), (False, True), (True, True))


def choose(peak_of: Callable[[bool, bool], float], available: float, checkpointing_options, release_options
           ) -> tuple[bool, bool]:
    """The first (checkpointing, release) of ORDER among the options whose peak fits, else the leanest."""
    candidates = [c for c in ORDER if c[0] in checkpointing_options and c[1] in release_options]
    return next((c for c in candidates if peak_of(*c) <= HEADROOM * available), candidates[-1])


def _options(value, allowed: bool = True) -> tuple[bool, ...]:
    return ((False, True) if allowed else (False,)) if value == AUTO else (bool(value),)


def resolve_savers(config: ProjectConfig, facts: DataFacts, available: float | None = None,
                   baseline: float | None = None) -> ProjectConfig:
    """`config` with both savers decided (unchanged when neither is "auto")."""
    training = config.training
    if AUTO not in (training.gradient_checkpointing, training.release_memory):
        return config
    ckpt_options = _options(training.gradient_checkpointing, checkpointing(facts))
    release_options = _options(training.release_memory)
    if len(ckpt_options) * len(release_options) > 1:
        peak_of = worst_step_peak(config, facts, baseline)
        if available is None:
            import psutil

            available = float(psutil.virtual_memory().available)
        chosen = choose(peak_of, available, ckpt_options, release_options)
    else:
        chosen = (ckpt_options[0], release_options[0])
    return config.model_copy(update={"training": training.model_copy(
        update={"gradient_checkpointing": chosen[0], "release_memory": chosen[1]})})


def worst_step_peak(config: ProjectConfig, facts: DataFacts, baseline: float | None = None
                    ) -> Callable[[bool, bool], float]:
    """Predicted peak RSS of the widest micro-batch the settings allow, per (checkpointing, release)."""
    from tunesmith.objectives import get_objective
    from tunesmith.plan.memory import StepShape, peak_memory
    from tunesmith.plan.shapes import model_shape
    from tunesmith.plan.trainable import trainable_params
    from tunesmith.plan.workload import objective_work

    shape = model_shape(config.model.name, config.model.trust_remote_code)
    training, length = config.training, config.model.max_length
    batch = training.batch_size if training.batch_size != AUTO else classification_batch_size(facts.train_examples)
    targets = batch * (length - 1) if shape.kind == "causal-lm" else batch
    step = objective_work(StepShape(batch, length, targets), get_objective(training.objective)).trained
    trainable = trainable_params(shape, config.method, facts.labels)
    if baseline is None:
        from tunesmith.plan.calibrate import cached_calibration, method_baseline

        cached = cached_calibration()
        baseline = (cached.baseline(config.method.name) if cached else
                    method_baseline(config.method.name, DEFAULT_BASELINE, DEFAULT_PEFT_BASELINE))

    def peak(ckpt: bool, release: bool) -> float:
        return peak_memory(shape, config.method, step, trainable, shape.total_params, baseline, config.model.dtype,
                           training.optimizer, ckpt, retains=not release).peak

    return peak
