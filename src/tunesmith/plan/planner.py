"""plan(): peak memory, time per step/epoch/total and cost of a training config, before training.

Everything here is a function of the config, the data's token counts, the model's config.json and the
machine's calibration; recommendations search the same model over method, batch size, sequence length,
gradient accumulation and activation checkpointing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from tunesmith.config import ProjectConfig
from tunesmith.config.auto import DataFacts, describe, needs_range_test, range_test, resolve_training, warm_head
from tunesmith.config.method import switch_method
from tunesmith.methods import get_method
from tunesmith.objectives import get_objective
from tunesmith.plan.calibrate import Calibration, calibrate
from tunesmith.plan.memory import MemoryBreakdown, StepShape, peak_memory
from tunesmith.plan.savers import resolve_savers
from tunesmith.plan.shapes import ModelShape, model_shape
from tunesmith.plan.speed import Rates, forward_seconds, matmul_flops, step_seconds, thread_speedup
from tunesmith.plan.targets import GPU_PROCESS_BASELINE, GPU_UTILISATION, Target, parse_target
from tunesmith.plan.trainable import trainable_params
from tunesmith.plan.workload import default_targets, micro_batches, objective_work

if TYPE_CHECKING:
    from tunesmith.methods import MethodOptions

MEMORY_HEADROOM = 0.85  # plan to use at most this share of the memory available


@dataclass(frozen=True)
class Setting:
    """The knobs the planner varies."""

    method: str
    batch_size: int
    gradient_accumulation: int
    max_length: int
    gradient_checkpointing: bool


@dataclass
class Estimate:
    setting: Setting
    peak_memory: float
    memory: dict
    seconds_per_step: float  # per optimizer step
    seconds_per_epoch: float
    steps_per_epoch: int
    trainable_params: int
    reference_seconds: float = 0.0  # once, before training: the reference model's log-probs (dpo, kto)
    breakdown: MemoryBreakdown | None = field(default=None, repr=False)  # the peak's terms, for explain_memory

    def fits(self, available: float) -> bool:
        return self.peak_memory <= available * MEMORY_HEADROOM


@dataclass
class Plan:
    target: str
    devices: int
    threads: int
    model: str
    total_params: int
    estimate: Estimate
    total_steps: int
    total_seconds: float
    available_memory: float
    price_per_hour: float | None = None
    recommendations: list[Estimate] = field(default_factory=list)
    larger_models: list[dict] = field(default_factory=list)
    memory_explained: list[dict] = field(default_factory=list)  # explain.MemoryRow's, summing to the peak
    notes: list[str] = field(default_factory=list)
    training: str = ""  # the training settings as resolved from the data (config/auto.py), in words

    @property
    def fits(self) -> bool:
        return self.estimate.fits(self.available_memory)

    @property
    def cost(self) -> float | None:
        if self.price_per_hour is None:
            return None
        return self.total_seconds / 3600 * self.price_per_hour

    def to_json(self) -> dict:
        data = asdict(self)
        for estimate in [data["estimate"], *data["recommendations"]]:
            estimate.pop("breakdown")  # `memory` holds its totals; memory_explained its parts
        data.update(fits=self.fits, cost=self.cost, peak_memory=self.estimate.peak_memory,
                    seconds_per_step=self.estimate.seconds_per_step, seconds_per_epoch=self.estimate.seconds_per_epoch)
        return data


def _gpu_seconds(shape: ModelShape, method: MethodOptions, step: StepShape, target: Target,
                 checkpointing: bool) -> float:
    compute = matmul_flops(shape, method, step, checkpointing) / (target.flops * GPU_UTILISATION)
    logits = 6 * step.targets * shape.vocab * 4 / target.bandwidth if shape.kind == "causal-lm" else 0.0
    return compute + logits + shape.layers * 2e-4  # kernel launches per block, forward + backward


class Planner:
    """Estimates for one model, dataset and machine (or target), under varying settings."""

    def __init__(self, config: ProjectConfig, lengths: list[int], targets: list[int], n_train_examples: int,
                 shape: ModelShape, target: Target | None, calibration: Calibration | None, threads: int, labels: int):
        self.config, self.shape, self.target = config, shape, target
        self.lengths, self.targets, self.labels = lengths, targets, labels
        self.scale = n_train_examples / max(1, len(lengths))  # lengths may be a sample of the data
        self.calibration, self.threads = calibration, threads
        self.devices = target.count if target else 1
        self.objective = get_objective(config.training.objective)
        # CPU memory only: what glibc keeps when training leaves it unbounded (plan/savers.py decided it)
        self.retains = target is None and config.training.release_memory is False

    def estimate(self, setting: Setting) -> Estimate:
        method = self.config.method
        if setting.method != method.name:  # another method keeps the options both share (rank, dropout...)
            method = switch_method(method, setting.method)
        lengths = [min(n, setting.max_length) for n in self.lengths]
        targets = [min(t, max(1, n - 1)) for t, n in zip(self.targets, lengths, strict=True)]
        shapes = micro_batches(lengths, targets, setting.batch_size, self.config.training.group_by_length,
                               self.config.training.seed)
        trainable = trainable_params(self.shape, method, self.labels)
        dtype = self.target.dtype if self.target else self.config.model.dtype
        baseline = GPU_PROCESS_BASELINE if self.target else self.calibration.baseline(method.name)
        optimizer = self.config.training.optimizer
        # The objective's sequences per micro-batch (a pair trains two); the forward-only passes (KTO's KL baseline,
        # the reference pass) keep no activations and free their logits before the backward pass: no memory term.
        work = {s: objective_work(s, self.objective) for s in set(shapes)}
        breakdowns = {s: peak_memory(self.shape, method, work[s].trained, trainable, self.shape.total_params,
                                     baseline, dtype, optimizer, setting.gradient_checkpointing, self.retains)
                      for s in set(shapes)}
        worst: MemoryBreakdown = max(breakdowns.values(), key=lambda b: b.peak)
        epoch = sum(self._seconds(method, work[s].trained, trainable, setting.gradient_checkpointing)
                    + self._forward_seconds(method, work[s].forward_only) for s in shapes) * self.scale
        epoch /= self.devices  # data parallel: each device takes its share of every global batch
        reference = sum(self._forward_seconds(method, work[s].reference) for s in shapes) * self.scale / self.devices
        per_step_examples = setting.batch_size * setting.gradient_accumulation * self.devices
        steps = max(1, math.ceil(len(self.lengths) * self.scale / per_step_examples))
        return Estimate(setting, worst.peak, worst.as_dict(), epoch / steps, epoch, steps, trainable, reference,
                        worst)

    def _seconds(self, method: MethodOptions, step: StepShape, trainable: int, checkpointing: bool) -> float:
        if self.target:
            return _gpu_seconds(self.shape, method, step, self.target, checkpointing)
        rates: Rates = self.calibration.rates
        return step_seconds(self.shape, method, step, trainable, rates, checkpointing) / thread_speedup(self.threads)

    def _forward_seconds(self, method: MethodOptions, step: StepShape | None) -> float:
        if step is None:
            return 0.0
        if self.target:  # a forward pass is about a third of a training step's FLOPs
            return _gpu_seconds(self.shape, method, step, self.target, False) / 3
        return forward_seconds(self.shape, method, step, self.calibration.rates) / thread_speedup(self.threads)

    def current(self) -> Setting:
        tc = self.config.training
        return Setting(self.config.method.name, tc.batch_size, tc.gradient_accumulation,
                       self.config.model.max_length, tc.gradient_checkpointing)


def _native_bf16_cpu() -> bool:
    import torch

    from tunesmith.train.sharding import native_bf16

    return native_bf16(torch.device("cpu"))


def total_steps(config: ProjectConfig, steps_per_epoch: int) -> int:
    steps = math.ceil(config.training.epochs * steps_per_epoch)
    return min(steps, config.training.max_steps) if config.training.max_steps else steps


def available_memory(target: Target | None) -> float:
    if target:
        return target.memory
    import psutil

    return float(psutil.virtual_memory().total)


def plan(config: ProjectConfig, n_train_examples: int, token_lengths: list[int], target: str | None = None,
         target_lengths: list[int] | None = None, price_per_hour: float | None = None, labels: int = 0,
         calibration: Calibration | None = None, threads: int | None = None, advise: bool = True,
         validation_examples: int = 0) -> Plan:
    """Predict peak memory, time and cost of training `config` on data with these token lengths; "auto" training
    settings are resolved for this data first, as training resolves them."""
    from tunesmith.plan.advice import larger_models, recommend
    from tunesmith.plan.explain import explain_memory

    if not token_lengths:
        from tunesmith.errors import DataError

        raise DataError("the planner needs the token lengths of at least one training example",
                        "Run `tunesmith prepare` first, or pass token_lengths.")
    import torch

    gpu = parse_target(target) if target else None
    task = config.objective.task
    facts = DataFacts(task, n_train_examples, validation_examples, labels, get_method(config.method.name).trains_base,
                      warm_head(config))
    calibration = calibration or (None if gpu else calibrate())
    if not gpu:  # as training will decide them here, now (a GPU's memory is another matter: the lean default)
        config = resolve_savers(config, facts, baseline=calibration.baseline(config.method.name))
    training = resolve_training(config.training, facts)
    if needs_range_test(training):  # (time and memory do not depend on the rate)
        config = config.model_copy(update={"training": training.model_copy(
            update={"learning_rate": range_test(facts.trains_base).fallback})})
    else:
        config = config.model_copy(update={"training": training})
    targets = list(target_lengths) if target_lengths is not None else default_targets(token_lengths, task)
    threads = threads or config.training.num_threads or torch.get_num_threads()
    shape = model_shape(config.model.name, config.model.trust_remote_code)
    planner = Planner(config, list(token_lengths), targets, n_train_examples, shape, gpu, calibration, threads, labels)
    estimate = planner.estimate(planner.current())
    steps = total_steps(config, estimate.steps_per_epoch)
    result = Plan(target=gpu.name if gpu else "this-machine", devices=planner.devices, threads=threads,
                  model=config.model.name, total_params=shape.total_params, estimate=estimate, total_steps=steps,
                  total_seconds=steps * estimate.seconds_per_step + estimate.reference_seconds,
                  available_memory=available_memory(gpu),
                  price_per_hour=price_per_hour, training=describe(training, facts))
    result.memory_explained = [asdict(row) for row in explain_memory(planner, estimate)]
    if advise:
        result.recommendations = recommend(planner, result.available_memory)
        result.larger_models = larger_models(planner, result.available_memory)
    if not gpu:
        result.notes.append("Times assume this machine is otherwise idle; other load slows training down.")
        if config.training.release_memory is True:
            result.notes.append("training.release_memory is on (memory is short here, or it was set): freed "
                                "memory goes back at once, and steps take up to ~1.6× these times.")
        if config.training.mixed_precision == "bf16":
            result.notes.append("training.mixed_precision is bf16: these times are float32's; bfloat16 steps took "
                                "~0.73× as long on a CPU with AVX512-BF16, and longer where it is emulated.")
        elif _native_bf16_cpu():
            result.notes.append("This CPU computes bfloat16 natively: training.mixed_precision: bf16 would take "
                                "~0.73× these step times (SmolLM2-135M LoRA), at a slightly higher validation loss "
                                "(+0.05 after one epoch, bench/results/train_throughput.md).")
    return result
