"""Peak resident memory of one training step, analytically (pure functions, bytes).

peak = process baseline (interpreter + torch + transformers, measured by calibration)
     + weights + gradients and optimizer state of the trainable parameters only
     + activations autograd saves for the backward pass, per token and per block (× the allocator's
       retention of the forward pass's short-lived tensors)
     + the vocabulary-sized logits: computed only for positions that carry loss, and at the start of
       the backward pass three [targets × vocab] fp32 tensors are alive at once (log-softmax output,
       its gradient, the logits' gradient); on small models this term dominates.

Per-block activation coefficients were read off autograd's saved tensors (torch.autograd.graph.
saved_tensors_hooks) for Llama- and BERT-style blocks; tests/plan checks them against that count.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.config.method import MethodConfig
from tunesmith.plan.shapes import ModelShape
from tunesmith.plan.trainable import adapted_modules

LOGIT_COPIES = 3
# The forward pass also makes short-lived tensors (pre-RoPE projections, masks, MLP intermediates) of
# about the saved tensors' size; the C allocator keeps their ~MB-sized blocks, so resident memory after
# the forward pass is ~1.8× the saved activations (measured on Llama blocks, tiny and 135M).
ACTIVATION_RETENTION = 1.8
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
OPTIMIZER_STATES = {"adamw": 2.0, "adafactor": 0.1}  # fp32 values kept per trainable parameter
# qlora: a base linear weight in 4 bits, plus its block's 8-bit scale (64 weights per block) and the fp32
# scale of those scales (256 blocks each): 0.5 + 1/64 + 4/16384 bytes.
FOUR_BIT_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)


@dataclass(frozen=True)
class StepShape:
    """One micro-batch: sequences × padded width, and how many positions carry loss."""

    batch_size: int
    seq_len: int
    targets: int  # logit rows computed (causal LM); sequences (classification)

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len


def block_floats_per_token(shape: ModelShape, method: MethodConfig, seq_len: int) -> float:
    """Values autograd keeps per token for one transformer block."""
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_dim
    adapter_dropout = method.name in ("lora", "dora", "qlora", "adapter") and method.dropout > 0
    if shape.kind == "encoder":  # BERT keeps attention probabilities and their dropout mask
        floats = 12 * h + 2 * i + 2 * shape.heads * seq_len
        if adapter_dropout:
            floats += 7 * h + i
    elif method.name == "full":
        floats = 8 * h + 4 * i + 2 * kv
    elif method.name == "ia3":
        floats = 5 * h + 4 * i + 4 * kv
    else:
        floats = 6 * h + 4 * i + 2 * kv
        if adapter_dropout:
            floats += 10 * h + i
    floats += adapted_modules(shape, method) * method.r
    if method.name == "adapter":
        floats += 2 * method.bottleneck_size + h
    return floats


def activation_bytes(shape: ModelShape, method: MethodConfig, step: StepShape, act_bytes: int = 4,
                     checkpointing: bool = False) -> float:
    per_block = block_floats_per_token(shape, method, step.seq_len) * act_bytes * step.tokens
    if checkpointing:  # only each block's input is kept; one block is recomputed at a time
        blocks = shape.layers * shape.hidden * act_bytes * step.tokens + per_block
    else:
        blocks = shape.layers * per_block
    embeddings = 2 * shape.hidden * act_bytes * step.tokens
    return ACTIVATION_RETENTION * (blocks + embeddings)


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
    activations: float
    logits: float
    extra: float  # method-specific fixed buffers (DoRA's weight norms)

    @property
    def peak(self) -> float:
        return self.baseline + self.weights + self.states + self.activations + self.logits + self.extra

    def as_dict(self) -> dict[str, float]:
        return {"baseline": self.baseline, "weights": self.weights, "gradients_and_optimizer": self.states,
                "activations": self.activations, "logits": self.logits, "method_buffers": self.extra,
                "peak": self.peak}


def peak_memory(shape: ModelShape, method: MethodConfig, step: StepShape, trainable: int, total: int,
                baseline: float, dtype: str = "float32", optimizer: str = "adamw",
                checkpointing: bool = False) -> MemoryBreakdown:
    width = DTYPE_BYTES[dtype]
    extra = 0.0
    weights = total * width
    if method.name == "dora":  # DoRA materialises W + BA and its norm per adapted module each step
        extra = 2.0 * shape.layers * shape.layer_linear_params * width
    if method.name == "qlora":  # block linears stored in 4 bits; each matmul dequantizes one weight at a time
        linear = shape.layers * shape.layer_linear_params
        weights = (total - linear) * width + linear * FOUR_BIT_BYTES
        extra = 2.0 * shape.hidden * shape.intermediate * 4
    return MemoryBreakdown(baseline=baseline, weights=weights, states=state_bytes(trainable, optimizer),
                           activations=activation_bytes(shape, method, step, width, checkpointing),
                           logits=logits_bytes(shape, step), extra=extra)
