"""Rough memory and time estimates for the catalog table, scaled from one measurement on this machine.

Reference (docs: DESIGN "Verified on this machine"): smollm2-135m, LoRA, batch 8 × 256 tokens, fp32
→ ~170 tokens/s and ~9.8 GB peak. Throughput scales inversely and memory roughly linearly with the
parameter count and the batch's tokens; encoders are much cheaper per token (no 49k-token logits).
A measured plan (`tunesmith.plan`) replaces these numbers when it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_PARAMS = 134_515_008
REFERENCE_TOKENS_PER_S = 170.0
REFERENCE_BATCH_TOKENS = 8 * 256
REFERENCE_PEAK_GB = 9.8
ENCODER_SPEEDUP = 20.0
ENCODER_MEMORY_SHARE = 0.1


@dataclass(frozen=True)
class Estimate:
    tokens_per_s: float
    peak_gb: float
    minutes: float


def estimate(parameters: int, kind: str, train_tokens: int, epochs: float, batch_size: int,
             max_length: int) -> Estimate:
    scale = parameters / REFERENCE_PARAMS
    speed = REFERENCE_TOKENS_PER_S / scale * (ENCODER_SPEEDUP if kind == "encoder" else 1.0)
    batch_share = batch_size * max_length / REFERENCE_BATCH_TOKENS
    memory = REFERENCE_PEAK_GB * scale * batch_share * (ENCODER_MEMORY_SHARE if kind == "encoder" else 1.0)
    return Estimate(speed, max(memory, 0.5), train_tokens * epochs / speed / 60)
