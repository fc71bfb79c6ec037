"""Seconds per training step, analytically: matmul FLOPs at this machine's measured rate, memory-bound
work (logits softmax, per-block element-wise ops, the optimizer) at measured per-element costs, and a
per-operator dispatch cost. All pure; the rates come from `calibrate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.config.method import MethodConfig
from tunesmith.plan.memory import StepShape, block_floats_per_token
from tunesmith.plan.shapes import ModelShape
from tunesmith.plan.trainable import adapted_width

# LoRA's rank-r matmuls are memory-bound: each reads and writes its input and output widths about this
# many times per token (forward, the input gradient, the adapter weights' gradients, dropout).
ADAPTER_PASSES = 4
# Encoders train with attention dropout, so attention runs unfused: the heads × T scores of every token
# are written (1), soft-maxed (2), dropped out with a mask (3) and read by the value matmul (1), then
# differentiated through dropout (3) and softmax (3): about 12 passes over them per step.
ENCODER_ATTENTION_PASSES = 12
PARALLEL_EFFICIENCY = 0.8  # speed-up per extra thread on this class of CPU (2048² matmul: 1 → 2 threads)


@dataclass(frozen=True)
class Rates:
    """This machine, one thread: what calibration measures."""

    matmul_flops: float  # fp32 FLOP per second
    logit_seconds: float  # per logit: the vocabulary head's softmax and memory traffic, forward + backward
    head_seconds: float  # per logit and hidden unit: the vocabulary head's (skinny) matmuls
    elementwise_seconds: float  # per saved activation value (written forward, read and differentiated backward)
    optimizer_seconds: float = 0.0  # per trainable parameter: gradient clipping and a fused AdamW update
    block_seconds: float = 0.0  # fixed cost per block and step: Python, dispatch, small kernels
    correction: float = 1.0  # measured / predicted on calibration's real training step


def matmul_flops(shape: ModelShape, method: MethodConfig, step: StepShape, checkpointing: bool = False) -> float:
    tokens = step.tokens
    blocks = 2.0 * tokens * shape.layer_linear_params * shape.layers
    attention = 4.0 * tokens * step.seq_len * shape.hidden * shape.layers
    forward = blocks + attention  # the vocabulary head is timed on its own (see step_seconds)
    # Backward: input gradients always (as many FLOPs as forward), weight gradients only when the base
    # is trained; fused CPU attention recomputes its scores, so its backward costs 2.5× its forward.
    backward = blocks * (2.0 if method.name == "full" else 1.0) + 2.5 * attention
    total = forward + backward
    total += 3.0 * 2.0 * tokens * method.r * shape.layers * adapted_width(shape, method)
    if method.name == "dora":
        # DoRA rebuilds W + BA (rank-r product) for its weight norms every step, and with dropout it runs
        # each base layer a second time on the dropped-out input.
        total += 3.0 * 2.0 * method.r * shape.layer_linear_params * shape.layers
        if method.dropout > 0:
            total += 2.0 * blocks
    if shape.kind == "causal-lm" and method.name == "full":
        total += 2.0 * step.targets * shape.hidden * shape.vocab  # the vocabulary head's weight gradient
    if checkpointing:
        total += blocks + attention
    return total


def step_seconds(shape: ModelShape, method: MethodConfig, step: StepShape, trainable: int, rates: Rates,
                 checkpointing: bool = False) -> float:
    """Seconds for one micro-batch's forward + backward (+ its share of the optimizer) on one thread."""
    compute = matmul_flops(shape, method, step, checkpointing) / rates.matmul_flops
    logits = 0.0
    if shape.kind == "causal-lm":  # forward and input gradient of the skinny head (its weight gradient is a FLOP)
        logits = step.targets * shape.vocab * (rates.logit_seconds + shape.hidden * rates.head_seconds)
    saved = block_floats_per_token(shape, method, step.seq_len) * step.tokens * shape.layers
    adapters = ADAPTER_PASSES * step.tokens * shape.layers * adapted_width(shape, method)
    if method.name == "dora":
        adapters += 4 * shape.layer_linear_params * shape.layers  # W + BA and its norms, forward and backward
    if method.name == "qlora":
        adapters += 2 * shape.layer_linear_params * shape.layers  # dequantize each 4-bit weight, forward and backward
    elementwise = (saved * (2 if checkpointing else 1) + adapters) * rates.elementwise_seconds
    if shape.kind == "encoder":
        elementwise += ENCODER_ATTENTION_PASSES * shape.heads * step.seq_len * step.tokens * shape.layers \
            * rates.elementwise_seconds
    dispatch = shape.layers * rates.block_seconds
    optimizer = trainable * rates.optimizer_seconds
    return rates.correction * (compute + logits + elementwise + dispatch + optimizer)


def thread_speedup(threads: int) -> float:
    return 1.0 + PARALLEL_EFFICIENCY * (max(1, threads) - 1)
