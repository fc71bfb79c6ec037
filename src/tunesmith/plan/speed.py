"""Seconds per training step, analytically: matmul FLOPs at this machine's measured rate, memory-bound
work (logits softmax, per-block element-wise ops, the optimizer) at measured per-element costs, and a
per-operator dispatch cost. All pure; the rates come from `calibrate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.methods import get_method
from tunesmith.plan.memory import StepShape, block_floats_per_token
from tunesmith.plan.shapes import ModelShape

if TYPE_CHECKING:
    from tunesmith.methods import MethodOptions

# Encoders train with attention dropout, so attention runs unfused: the heads × T scores of every token
# are written (1), soft-maxed (2), dropped out with a mask (3) and read by the value matmul (1), then
# differentiated through dropout (3) and softmax (3): about 12 passes over them per step.
ENCODER_ATTENTION_PASSES = 12
PARALLEL_EFFICIENCY = 0.8  # speed-up per extra thread on this class of CPU (2048² matmul: 1 → 2 threads)
# A forward pass without gradients, as shares of the training step's terms: the soft-max over the vocabulary and
# its memory traffic (the backward pass writes and reads the gradient too), the saved activations (written once,
# never read back or differentiated) and the per-block dispatch (the backward pass launches about twice the kernels).
FORWARD_LOGIT_SHARE = 0.5
FORWARD_WRITE_SHARE = 1 / 3
FORWARD_DISPATCH_SHARE = 1 / 3


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


def matmul_flops(shape: ModelShape, method: MethodOptions, step: StepShape, checkpointing: bool = False) -> float:
    tokens = step.tokens
    blocks = 2.0 * tokens * shape.layer_linear_params * shape.layers
    attention = 4.0 * tokens * step.seq_len * shape.hidden * shape.layers
    forward = blocks + attention  # the vocabulary head is timed on its own (see step_seconds)
    # Backward: input gradients (as many FLOPs as forward); the method adds its own terms (weight gradients
    # when the base trains, adapter matmuls); fused CPU attention recomputes its scores, so its backward
    # costs 2.5× its forward.
    backward = blocks + 2.5 * attention
    total = forward + backward + get_method(method.name).costs.flops(shape, method, step)
    if checkpointing:
        total += blocks + attention
    return total


def step_seconds(shape: ModelShape, method: MethodOptions, step: StepShape, trainable: int, rates: Rates,
                 checkpointing: bool = False) -> float:
    """Seconds for one micro-batch's forward + backward (+ its share of the optimizer) on one thread."""
    compute = matmul_flops(shape, method, step, checkpointing) / rates.matmul_flops
    logits = 0.0
    if shape.kind == "causal-lm":  # forward and input gradient of the skinny head (its weight gradient is a FLOP)
        logits = step.targets * shape.vocab * (rates.logit_seconds + shape.hidden * rates.head_seconds)
    saved = block_floats_per_token(shape, method, step.seq_len) * step.tokens * shape.layers
    adapters = get_method(method.name).costs.elementwise(shape, method, step)
    elementwise = (saved * (2 if checkpointing else 1) + adapters) * rates.elementwise_seconds
    if shape.kind == "encoder":
        elementwise += ENCODER_ATTENTION_PASSES * shape.heads * step.seq_len * step.tokens * shape.layers \
            * rates.elementwise_seconds
    dispatch = shape.layers * rates.block_seconds
    optimizer = trainable * rates.optimizer_seconds
    return rates.correction * (compute + logits + elementwise + dispatch + optimizer)


def thread_speedup(threads: int) -> float:
    return 1.0 + PARALLEL_EFFICIENCY * (max(1, threads) - 1)


def forward_seconds(shape: ModelShape, method: MethodOptions, step: StepShape, rates: Rates) -> float:
    """Seconds for a forward pass without gradients on one thread (the reference model's log-probs, computed once
    before training; KTO's KL baseline every step): the forward matmuls, the head's forward matmul and soft-max
    over the loss positions, the activations written once (not read back), and the forward share of the per-block
    dispatch. The shares were measured against real passes on tiny models (tests/plan/test_objective_plan.py)."""
    tokens = step.tokens
    compute = (2.0 * tokens * shape.layer_linear_params * shape.layers
               + 4.0 * tokens * step.seq_len * shape.hidden * shape.layers) / rates.matmul_flops
    logits = 0.0
    if shape.kind == "causal-lm":
        logits = step.targets * shape.vocab * (FORWARD_LOGIT_SHARE * rates.logit_seconds
                                               + shape.hidden * rates.head_seconds / 2)
    written = block_floats_per_token(shape, method, step.seq_len) * tokens * shape.layers * rates.elementwise_seconds
    dispatch = FORWARD_DISPATCH_SHARE * shape.layers * rates.block_seconds
    return rates.correction * (compute + logits + FORWARD_WRITE_SHARE * written + dispatch)
