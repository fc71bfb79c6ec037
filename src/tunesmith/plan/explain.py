"""Where each byte of the predicted peak goes and what lowers it: the planner's one memory model, in words.

Every number here is a term of plan.memory's breakdown for the widest micro-batch, or the same model
evaluated at another setting (the lever), never a second computation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tunesmith.methods import get_method
from tunesmith.plan.memory import state_bytes

if TYPE_CHECKING:
    from tunesmith.plan.planner import Estimate, Planner

GB = 1e9


@dataclass(frozen=True)
class MemoryRow:
    component: str
    bytes: float
    what: str
    lever: str


def _gb(value: float) -> str:
    return f"{value / GB:.2f} GB"


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def explain_memory(planner: Planner, estimate: Estimate) -> list[MemoryRow]:
    """The peak's components (they sum to it), each with what it is and the setting that lowers it."""
    setting, memory = estimate.setting, estimate.breakdown
    saved, step, shape = memory.saved, memory.step, planner.shape
    config = planner.config
    dtype = planner.target.dtype if planner.target else config.model.dtype
    optimizer = config.training.optimizer
    libraries = "PyTorch, transformers and PEFT" if get_method(setting.method).peft else "PyTorch and transformers"
    baseline_what = ("the CUDA context and libraries" if planner.target else
                     f"Python, {libraries} themselves, measured on this machine by calibration")
    weights_lever = (f"model.dtype: bfloat16 would halve it to {_gb(memory.weights / 2)} (slower on CPUs without AMX)"
                     if dtype == "float32" else "a smaller model")
    states_lever = []
    if optimizer == "adamw":
        states_lever.append("training.optimizer: adafactor would cut it to "
                            + _gb(state_bytes(estimate.trainable_params, "adafactor")))
    if setting.method == "full":
        lora = planner.estimate(replace(setting, method="lora"))
        states_lever.append(f"method.name: lora would cut it to {_gb(lora.memory['gradients_and_optimizer'])}")
    blocks = (f"{_mb(saved.per_block)} per block × {saved.blocks} block"
              + (f" being recomputed, + each of the {shape.layers} blocks' input ({_mb(saved.block_inputs)})"
                 if saved.block_inputs else "s"))
    activation_levers = []
    other = planner.estimate(replace(setting, gradient_checkpointing=not setting.gradient_checkpointing))
    if not setting.gradient_checkpointing:
        activation_levers.append(
            f"training.gradient_checkpointing: true would cut activations to {_gb(other.breakdown.saved.saved)} "
            f"(peak {_gb(other.peak_memory)}) for recomputing the forward pass")
    else:
        activation_levers.append(
            f"training.gradient_checkpointing: false would skip recomputing the forward pass but keep "
            f"{_gb(other.breakdown.saved.saved)} of activations (peak {_gb(other.peak_memory)})")
    if setting.batch_size > 1:
        half = setting.batch_size // 2
        smaller = planner.estimate(replace(setting, batch_size=half,
                                           gradient_accumulation=setting.gradient_accumulation * 2))
        activation_levers.append(f"training.batch_size: {half} with gradient_accumulation: "
                                 f"{setting.gradient_accumulation * 2} would give a peak of {_gb(smaller.peak_memory)}")
    shorter = "a smaller training.batch_size or model.max_length (fewer positions per micro-batch)"
    rows = [
        MemoryRow("process baseline", memory.baseline, baseline_what, "none in the config: every run pays it"),
        MemoryRow("weights", memory.weights,
                  f"the base model's {planner.shape.total_params / 1e6:.1f} M parameters in {dtype}", weights_lever),
        MemoryRow("gradients + optimizer", memory.states,
                  f"an fp32 gradient and {optimizer}'s state for the {estimate.trainable_params:,} trained parameters",
                  "; ".join(states_lever) or "already lean"),
        MemoryRow("activations", saved.saved,
                  f"tensors autograd keeps for the backward pass: {blocks}, + embeddings, for the widest "
                  f"micro-batch ({step.batch_size} × {step.seq_len} tokens)",
                  "; ".join(activation_levers) or shorter),
        MemoryRow("logits", memory.logits,
                  f"vocabulary-sized scores ({shape.vocab:,} columns) for the {step.targets} positions carrying loss, "
                  "three fp32 copies alive as the backward pass starts" if memory.logits else
                  "none: this model's head is small", shorter if memory.logits else "—"),
        MemoryRow("method buffers", memory.extra,
                  "fixed buffers the method keeps during a step (DoRA's weight norms)" if memory.extra else
                  f"none: {setting.method} keeps no fixed buffers",
                  "method.name: lora keeps none" if memory.extra else "—"),
    ]
    if memory.retained:
        rows.append(MemoryRow(
            "allocator retention", memory.retained,
            "freed forward-pass tensors glibc keeps for reuse (0.6 × every block's forward activations), since "
            "training.release_memory is off (set so, or auto with memory to spare)",
            "training.release_memory: true would give them back at once, for ~1.6× the time per step"))
    return rows
