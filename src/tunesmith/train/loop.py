"""The one training loop every method and task shares.

setup (model, data, optimizer, resume) → for each optimizer step: micro-batches, summed loss divided
by the step's target count, gradient sum across processes, clip, step → every `eval_every` steps:
validate, early-stopping bookkeeping, atomic checkpoint → finish: restore the best weights. How
processes share the model (ddp, fsdp, deepspeed) is the strategy's business (train/sharding.py).
A non-finite training loss, gradient norm or validation loss, or non-finite weights about to be
checkpointed, stop the run at that step (`Diverged`): no checkpoint ever holds a diverged model.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields

import torch

from tunesmith.config import ProjectConfig
from tunesmith.config.auto import GENERATIVE
from tunesmith.errors import TunesmithError
from tunesmith.evaluate.overfitting import Evaluation, find_overfitting
from tunesmith.objectives.runtime import Sft
from tunesmith.train import checkpoint as ckpt
from tunesmith.train.allocator import release_freed_memory
from tunesmith.train.batching import Step, collate, epoch_steps
from tunesmith.train.distributed import World
from tunesmith.train.encode import Example
from tunesmith.train.monitor import MetricsLog, ProgressBar, eta_seconds
from tunesmith.train.optim import learning_rate
from tunesmith.train.sharding import Replicated

StepCallback = Callable[[dict], None]


class Diverged(TunesmithError):
    """Training produced inf or NaN; the run stops at that step and is marked failed."""

    def __init__(self, step: int, what: str, learning_rate: float):
        lower = min(learning_rate / 10, GENERATIVE["learning_rate"])
        super().__init__(f"training diverged at step {step}: {what} (training.learning_rate is {learning_rate:g}).",
                         f"Lower the learning rate (e.g. --set training.learning_rate={lower:g}) or check the data "
                         "for extreme values, then train again, or continue from the last checkpoint with --resume "
                         "(checkpoints never hold inf or NaN).")
        self.step = step


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


@dataclass
class LoopState:
    """Everything besides tensors needed to continue a run exactly; saved as JSON in each checkpoint."""

    step: int = 0
    epoch: int = 0
    next_batch: int = 0  # index of the next global batch within `epoch`
    tokens: int = 0
    real_positions: int = 0
    padded_positions: int = 0
    seconds: float = 0.0
    best_step: int | None = None
    best_value: float | None = None
    evals_without_improvement: int = 0
    evaluations: list[list] = field(default_factory=list)  # [step, mean train loss since last, val loss]
    warned_overfitting: bool = False
    pause_seconds: float = 0.0  # time spent validating and checkpointing (for an ETA that includes them)
    pauses: int = 0
    warnings: list[str] = field(default_factory=list)
    last_train_loss: float | None = None
    last_val: dict = field(default_factory=dict)
    best_val: dict = field(default_factory=dict)
    identity: dict = field(default_factory=dict)

    @classmethod
    def from_saved(cls, saved: dict) -> LoopState:
        """The state of a checkpoint, also one written by an older tunesmith (retired keys are dropped)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in saved.items() if key in known})


@dataclass
class Batches:
    examples: list[Example]
    pad_id: int
    classification: bool
    batch_size: int
    accumulation: int
    seed: int
    group_by_length: bool
    world: World
    collate_fn: Callable[..., dict] = collate  # the objective's (objectives/runtime.py): pairs collate otherwise

    def epoch(self, epoch: int) -> list[Step]:
        return epoch_steps(self.examples, self.batch_size, self.accumulation, self.seed, epoch,
                           self.group_by_length, self.world.rank, self.world.size)

    def tensors(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return self.collate_fn([self.examples[i] for i in indices], self.pad_id, self.classification)


class StopFlag:
    """SIGTERM / Ctrl-C ask the loop to checkpoint and stop after the current step; a second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: dict = {}

    def __enter__(self) -> StopFlag:
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = {}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def total_steps(config: ProjectConfig, steps_per_epoch: int) -> int:
    planned = math.ceil(config.training.epochs * steps_per_epoch)
    return min(planned, config.training.max_steps) if config.training.max_steps else planned


def _on(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}


@torch.no_grad()
def evaluate(model, examples: list[Example], pad_id: int, task: str, virtual_tokens: bool, batch_size: int,
             world: World, strategy: Replicated | None = None, objective=None) -> dict:
    """Validation loss (per target token, or per example for classifiers and preference objectives) and the
    objective's metrics (accuracy for classifiers; preference accuracy and reward margin)."""
    strategy = strategy or Replicated(world)
    objective = objective or Sft()
    was_training = model.training
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))[world.rank::world.size]
    chunks = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    total = count = 0.0
    stats: dict[str, float] = {}
    for chunk in strategy.rounds(chunks):  # None: a pass that counts nothing, to keep collectives in step
        batch = objective.collate([examples[i] for i in chunk or [0]], pad_id, task == "classification")
        loss, n, found = objective.loss_sum(model, _on(batch, strategy.device), task,
                                            virtual_tokens or strategy.whole_forward)
        if chunk is not None:
            total, count = total + float(loss), count + n
        # every process sums the same statistics (an empty pass adds zeros), so the collective lines up
        stats = {k: stats.get(k, 0.0) + (v if chunk is not None else 0.0) for k, v in found.items()}
    names = sorted(stats)
    total, count, *values = world.sum(total, count, *(stats[k] for k in names))
    model.train(was_training)
    return objective.metrics(task, total, count, dict(zip(names, values, strict=True)))


def train_step(model, params, optimizer, batches: Batches, step: Step, task: str, virtual_tokens: bool,
               max_grad_norm: float, strategy: Replicated, objective=None) -> tuple[float, float | None]:
    """One optimizer step; returns the step's mean training loss over all processes and the gradient norm
    before clipping (None where the strategy's engine clips)."""
    objective = objective or Sft()
    loss_total = 0.0
    for micro in strategy.micro_batches(step.micro_batches):
        # None: this process has no micro-batch left but its peers do; a zero-weight pass keeps them in step.
        with strategy.autocast():
            loss, _, _ = objective.loss_sum(model, _on(batches.tensors(micro or [0]), strategy.device), task,
                                            virtual_tokens or strategy.whole_forward)
        loss = loss if micro is not None else loss * 0
        strategy.backward(loss / step.global_targets)
        loss_total += float(loss.detach())
    norm = strategy.step(optimizer, params, max_grad_norm)
    return strategy.world.sum(loss_total)[0] / step.global_targets, norm


def improved(state: LoopState, metric: str, value: float) -> bool:
    if state.best_value is None:
        return True
    return value > state.best_value if metric == "val_accuracy" else value < state.best_value


def check_overfitting(state: LoopState, train_loss: float, val_loss: float, patience: int) -> str | None:
    """Records this validation; a warning the first time the one overfitting rule (evaluate/overfitting.py,
    also behind the report's verdict and the model card) holds, None otherwise."""
    state.evaluations.append([state.step, train_loss if math.isfinite(train_loss) else None, val_loss])
    if state.warned_overfitting:
        return None
    found = find_overfitting([Evaluation(*point) for point in state.evaluations], patience)
    if found is None:
        return None
    state.warned_overfitting = True
    return f"step {state.step}: {found.message()} (fewer epochs, early stopping or more data help)."


def run_loop(*, config: ProjectConfig, model, optimizer, batches: Batches, val_examples: list[Example],
             task: str, virtual_tokens: bool, state: LoopState, run_dir, world: World,
             callbacks: Sequence[StepCallback] = (), save_weights: Callable[[], dict],
             attach: Callable[[MetricsLog], object] = lambda log: None,
             strategy: Replicated | None = None, objective=None) -> tuple[LoopState, str]:
    """Train until done, stopped early or interrupted; returns the state and how it ended.

    `save_weights` and the strategy's gathering are collectives under fsdp: every process calls them."""
    tc = config.training
    strategy = strategy or Replicated(world)
    params = [p for p in model.parameters() if p.requires_grad]
    steps_per_epoch = len(batches.epoch(0))
    total = total_steps(config, steps_per_epoch)
    log = MetricsLog(run_dir, state.step if state.step else None) if world.main else None
    if log:
        attach(log)
    bar = ProgressBar(total, state.step, tc.eval_every, enabled=world.main)
    ckpt_root = run_dir / "checkpoints"
    window: list[float] = []
    shown: dict = {}  # the last validation, printed once its checkpoint is saved (its ETA counts that save)
    outcome = "completed"

    def checkpoint() -> None:
        release_freed_memory()  # the step's activations, kept by the C allocator, are not needed to save
        weights, optimizer_state = save_weights(), strategy.optimizer_state(optimizer)
        # (whole tensors on the main process only: it decides, every process hears the verdict)
        broken = world.main and not all(bool(torch.isfinite(value).all()) for value in weights.values())
        if world.sum(float(broken))[0]:
            raise Diverged(state.step, "the trained weights hold inf or NaN values", tc.learning_rate)
        if world.main:
            ckpt.save_checkpoint(ckpt_root / f"step-{state.step}", weights, optimizer_state, asdict(state))
            protect = {f"step-{state.best_step}"} if state.best_step is not None else set()
            ckpt.prune(ckpt_root, tc.keep_checkpoints, protect)
        world.barrier()

    def validate() -> bool:
        """Returns True when early stopping says stop."""
        if not val_examples:
            return False
        release_freed_memory()
        result = evaluate(model, val_examples, batches.pad_id, task, virtual_tokens, tc.batch_size, world, strategy,
                          objective)
        train_loss = sum(window) / len(window) if window else state.last_train_loss or float("nan")
        window.clear()
        if not _finite(result.get("val_loss")):
            raise Diverged(state.step, f"the validation loss is {result['val_loss']:.4g}", tc.learning_rate)
        state.last_val = result
        metric = tc.early_stopping_metric if tc.early_stopping_metric in result else "val_loss"
        if improved(state, metric, result[metric]):
            state.best_step, state.best_value, state.evals_without_improvement = state.step, result[metric], 0
            state.best_val = result
        else:
            state.evals_without_improvement += 1
        warning = check_overfitting(state, train_loss, result["val_loss"], tc.overfit_patience)
        if warning:
            state.warnings.append(warning)
            bar.note(f"[yellow]warning:[/yellow] {warning}")
        shown.update(result=result, train_loss=train_loss)
        if log:
            log.add({"split": "validation", "step": state.step, "epoch": state.epoch, **result})
            log.plot()
        patience = tc.early_stopping_patience
        return patience is not None and state.evals_without_improvement >= patience

    with StopFlag() as stop:
        model.train()
        while state.step < total and outcome == "completed":
            steps = batches.epoch(state.epoch)
            while state.next_batch < len(steps) and state.step < total:
                step = steps[state.next_batch]
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(state.step, total, tc)
                started = time.perf_counter()
                loss, norm = train_step(model, params, optimizer, batches, step, task, virtual_tokens,
                                        tc.max_grad_norm, strategy, objective)
                if not (_finite(loss) and _finite(norm)):
                    gradient = f" and the gradient norm {norm:.4g}" if norm is not None else ""
                    raise Diverged(state.step + 1, f"the training loss is {loss:.4g}{gradient}", tc.learning_rate)
                state.seconds += time.perf_counter() - started
                tokens, real, padded = world.sum(step.real_tokens, *_positions(batches, step))
                state.tokens += int(tokens)
                state.real_positions += int(real)
                state.padded_positions += int(padded)
                state.step += 1
                state.next_batch += 1
                state.last_train_loss = loss
                window.append(loss)
                row = {"split": "train", "step": state.step, "epoch": state.epoch, "train_loss": loss,
                       "lr": optimizer.param_groups[0]["lr"], "tokens": state.tokens,
                       "tokens_per_second": state.tokens / max(state.seconds, 1e-9), "elapsed": state.seconds,
                       "eta_s": eta_seconds(state.step, total, tc.eval_every, state.seconds, state.pause_seconds,
                                            state.pauses)[0]}
                if log:
                    log.add(row)
                bar.step(row, state)
                for callback in callbacks:
                    callback(row)
                should_stop = False
                if state.step % tc.eval_every == 0 or state.step == total:
                    paused = time.perf_counter()
                    should_stop = validate()
                    checkpoint()
                    state.pause_seconds += time.perf_counter() - paused
                    state.pauses += 1
                    if shown:
                        bar.validated(state, shown.pop("result"), shown.pop("train_loss"))
                if should_stop:
                    outcome = "stopped_early"
                    bar.note(f"early stopping at step {state.step}: no improvement in "
                             f"{tc.early_stopping_patience} validations")
                elif world.sum(float(stop.requested))[0] > 0:
                    if state.step % tc.eval_every and state.step != total:
                        checkpoint()
                    outcome = "interrupted"
                if outcome != "completed":
                    break
            if state.next_batch >= len(steps):
                state.epoch, state.next_batch = state.epoch + 1, 0
    bar.close()
    if log and outcome != "interrupted":
        log.plot()
    return state, outcome


def _positions(batches: Batches, step: Step) -> tuple[int, int]:
    lengths = [[len(batches.examples[i]) for i in micro] for micro in step.micro_batches]
    return sum(map(sum, lengths)), sum(max(m) * len(m) for m in lengths if m)
