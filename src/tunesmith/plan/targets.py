"""Where training would run: this machine (calibrated) or a named GPU model × count, and reference
architectures for "what would it take to fit a larger model"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunesmith.errors import TunesmithError
from tunesmith.plan.shapes import ModelShape


@dataclass(frozen=True)
class Target:
    name: str
    count: int
    memory: float  # bytes per device
    flops: float  # peak dense bf16 FLOP/s per device
    bandwidth: float  # memory bytes/s per device
    dtype: str  # what training uses there

    @property
    def is_gpu(self) -> bool:
        return self.name != "this-machine"


# Public datasheet numbers (dense bf16 tensor-core peak, HBM/GDDR bandwidth).
GPUS: dict[str, tuple[float, float, float]] = {
    "t4": (16e9, 65e12, 320e9),
    "l4": (24e9, 121e12, 300e9),
    "a10g": (24e9, 125e12, 600e9),
    "rtx4090": (24e9, 165e12, 1008e9),
    "a100": (80e9, 312e12, 2039e9),
    "a100-40gb": (40e9, 312e12, 1555e9),
    "l40s": (48e9, 362e12, 864e9),
    "h100": (80e9, 989e12, 3350e9),
}
GPU_UTILISATION = 0.35  # share of peak FLOP/s small-batch fine-tuning reaches in practice
GPU_PROCESS_BASELINE = 1.0e9  # CUDA context, kernels and the framework, per device


def parse_target(text: str) -> Target:
    """'a100', 'a100x2' or 'h100x8' → a GPU target."""
    match = re.fullmatch(r"([a-z0-9-]+?)(?:x(\d+))?", text.strip().lower())
    if not match or match.group(1) not in GPUS:
        raise TunesmithError(f"unknown target '{text}'",
                             f"Use one of {', '.join(GPUS)}, optionally with a count such as a100x2.")
    memory, flops, bandwidth = GPUS[match.group(1)]
    return Target(match.group(1), int(match.group(2) or 1), memory, flops, bandwidth, "bfloat16")


# Published configs of larger open models, for "what it would take" advice.
REFERENCE_MODELS: dict[str, ModelShape] = {
    "SmolLM2-360M": ModelShape("causal-lm", 49152, 960, 32, 2560, 15, 320, True),
    "Qwen2.5-0.5B": ModelShape("causal-lm", 151936, 896, 24, 4864, 14, 128, True),
    "SmolLM2-1.7B": ModelShape("causal-lm", 49152, 2048, 24, 8192, 32, 2048, True),
    "Qwen2.5-7B": ModelShape("causal-lm", 152064, 3584, 28, 18944, 28, 512, False),
}
