"""Peak resident memory of one training step, analytically (pure functions, bytes).

peak = process baseline (interpreter + torch + transformers, measured by calibration)
     + weights + gradients and optimizer state of the trainable parameters only
     + activations autograd saves for the backward pass, per token and per block (one block and every
       block's input under activation checkpointing)
     + the vocabulary-sized logits: computed only for positions that carry loss, and at the start of
       the backward pass three [targets × vocab] fp32 tensors are alive at once (log-softmax output,
       its gradient, the logits' gradient); on small models this term dominates.

Per-block activation coefficients were read off autograd's saved tensors (torch.autograd.graph.
saved_tensors_hooks) for Llama- and BERT-style blocks; tests/plan checks them against that count.

     + the C allocator's retention, when training does not bound it (`training.release_memory` off, what
       "auto" picks where the run fits in memory without it: plan/savers.py): glibc keeps ~0.6 × every block's
       forward activations, with or without checkpointing (SmolLM2-135M LoRA at the quickstart's settings:
       4.0 GB peak, 2.5 GB checkpointed; bounded 3.1 and 1.4 GB; bench/results/train_memory.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.methods import get_method
from tunesmith.plan.shapes import ModelShape

if TYPE_CHECKING:
    from tunesmith.methods import MethodOptions

LOGIT_COPIES = 3
ALLOCATOR_RETENTION = 0.6  # × the forward pass's activations of every block, kept by glibc when not bounded
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
OPTIMIZER_STATES = {"adamw": 2.0, "adafactor": 0.1}  # fp32 values kept per trainable parameter


@dataclass(frozen=True)
class StepShape:
    """One micro-batch: sequences × padded width, and how many positions carry loss."""

    batch_size: int
    seq_len: int
    targets: int  # logit rows computed (causal LM); sequences (classification)

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len


def block_floats_per_token(shape: ModelShape, method: MethodOptions, seq_len: int) -> float:
    """Values autograd keeps per token for one transformer block: a frozen base block's, plus the method's."""
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_dim
    # BERT keeps attention probabilities and their dropout mask
    base = 12 * h + 2 * i + 2 * shape.heads * seq_len if shape.kind == "encoder" else 6 * h + 4 * i + 2 * kv
    return base + get_method(method.name).costs.saved_floats(shape, method, seq_len)


@dataclass(frozen=True)
class Activations:
    """What autograd keeps alive at the start of the backward pass (bytes)."""

    per_block: float  # one block's saved tensors for the whole micro-batch
    blocks: int  # blocks whose saved tensors are alive at once (1 under checkpointing: the one recomputed)
    block_inputs: float  # checkpointing: each block's input, kept to recompute it
    embeddings: float

    @property
    def saved(self) -> float:
        return self.per_block * self.blocks + self.block_inputs + self.embeddings


def activations(shape: ModelShape, method: MethodOptions, step: StepShape, act_bytes: int = 4,
                checkpointing: bool = False) -> Activations:
    per_block = block_floats_per_token(shape, method, step.seq_len) * act_bytes * step.tokens
    inputs = shape.layers * shape.hidden * act_bytes * step.tokens if checkpointing else 0.0
    embeddings = 2 * shape.hidden * act_bytes * step.tokens
    return Activations(per_block=per_block, blocks=1 if checkpointing else shape.layers, block_inputs=inputs,
                       embeddings=embeddings)


def logits_bytes(shape: ModelShape, step: StepShape) -> float:
    if shape.kind != "causal-lm":
        return 0.0
    return LOGIT_COPIES * step.targets * shape.vocab * 4.0 + step.targets * shape.hidden * 4.0


def state_bytes(trainable: int, optimizer: str) -> float:
    """Gradients plus optimizer state, fp32, for the trainable parameters only."""
    return trainable * 4.0 * (1 + OPTIMIZER_STATES[optimizer])


@dataclass(frozen=True)
class MemoryBreakdown:
    baseline: float
    weights: float
    states: float
    activations: float  # saved for the backward pass (detail: saved)
    logits: float
    extra: float  # method-specific fixed buffers (Costs.buffer_bytes: DoRA's weight norms)
    saved: Activations | None = None  # the activations term, part by part (for `plan --explain-memory`)
    step: StepShape | None = None  # the micro-batch this breakdown is for
    retained: float = 0.0  # freed forward tensors the C allocator keeps (0 when training bounds it)

    @property
    def peak(self) -> float:
        return (self.baseline + self.weights + self.states + self.activations + self.logits + self.extra
                + self.retained)

    def as_dict(self) -> dict[str, float]:
        return {"baseline": self.baseline, "weights": self.weights, "gradients_and_optimizer": self.states,
                "activations": self.activations, "logits": self.logits, "method_buffers": self.extra,
                "allocator_retention": self.retained, "peak": self.peak}


def peak_memory(shape: ModelShape, method: MethodOptions, step: StepShape, trainable: int, total: int,
                baseline: float, dtype: str = "float32", optimizer: str = "adamw",
                checkpointing: bool = False, retains: bool = False) -> MemoryBreakdown:
    """retains: the C allocator is not bounded (training.release_memory off), so it keeps its share."""
    width = DTYPE_BYTES[dtype]
    costs = get_method(method.name).costs
    saved = activations(shape, method, step, width, checkpointing)
    forward = saved.per_block * shape.layers + saved.embeddings  # every block's, checkpointed or not
    return MemoryBreakdown(baseline=baseline, weights=costs.weight_bytes(shape, method, total, width),
                           states=state_bytes(trainable, optimizer), activations=saved.saved,
                           logits=logits_bytes(shape, step), extra=costs.buffer_bytes(shape, method, width),
                           saved=saved, step=step, retained=ALLOCATOR_RETENTION * forward if retains else 0.0)
