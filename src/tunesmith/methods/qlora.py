"""QLoRA: LoRA on a frozen base whose linear layers are stored in 4 bits (bitsandbytes NF4 or FP4, double
quantization of the block scales).

Only the training copy of the base is quantized: `load_overrides` hands transformers a BitsAndBytesConfig
when train.setup loads the base. What the run saves is a standard PEFT LoRA adapter, so `load_run`,
merge, export and serving put it on the full-precision base exactly like a LoRA run (never a 4-bit
base). The trained model saw 4-bit base weights, so its outputs on the full-precision base differ by the
base's quantization error (measured in tests/methods/test_qlora.py).

bitsandbytes >= 0.50 runs 4-bit layers on CPU too (slower than fp32 LoRA there: every matmul dequantizes
its weights; the gain is memory, ~0.5 byte per base linear weight instead of 4).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tunesmith.errors import ConfigError
from tunesmith.methods import lora, low_rank
from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import HEAD_NAMES, Family, Method, register

if TYPE_CHECKING:
    import torch

MIN_BITSANDBYTES = (0, 50)  # first release tested here with 4-bit layers on CPU
# Kept in full precision: the output layer (every catalog architecture names it lm_head) and a new
# classification head, which trains whole. A list replaces transformers' own defaults, so both are named.
KEEP_FULL_PRECISION = ("lm_head", *HEAD_NAMES)
# A base linear weight in 4 bits, plus its block's 8-bit scale (64 weights per block) and the fp32 scale of
# those scales (256 blocks each): 0.5 + 1/64 + 4/16384 bytes.
FOUR_BIT_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)


class QloraOptions(low_rank.LowRankOptions):
    name: Literal["qlora"] = Field("qlora", description="LoRA on a frozen base stored in 4 bits.")
    quant_type: Literal["nf4", "fp4"] = Field(
        "nf4", description="4-bit data type of the frozen base weights (nf4: NormalFloat, as in the QLoRA paper; "
        "fp4: plain 4-bit float).")
    quant_compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="dtype the 4-bit weights are dequantized to for each matmul; auto is bfloat16 on a "
        "CUDA GPU and float32 on CPU.")


class QloraCosts(low_rank.LowRankCosts):
    def weight_bytes(self, shape, options, total, width) -> float:
        linear = shape.layers * shape.layer_linear_params  # block linears in 4 bits
        return (total - linear) * width + linear * FOUR_BIT_BYTES

    def buffer_bytes(self, shape, options, width) -> float:
        return 2.0 * shape.hidden * shape.intermediate * 4  # each matmul dequantizes one weight at a time

    def elementwise(self, shape, options, step) -> float:
        # dequantize each 4-bit weight, forward and backward
        return super().elementwise(shape, options, step) + 2 * shape.layer_linear_params * shape.layers


def compute_dtype(options, cuda: bool) -> torch.dtype:
    import torch

    if options.quant_compute_dtype == "auto":
        return torch.bfloat16 if cuda else torch.float32
    return getattr(torch, options.quant_compute_dtype)


def quantization_config(options, cuda: bool):
    """The BitsAndBytesConfig the base is loaded with for training on a CUDA GPU or the CPU."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=options.quant_type, bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype(options, cuda), llm_int8_skip_modules=list(KEEP_FULL_PRECISION))


def require_bitsandbytes() -> None:
    """Refuse before anything loads when the 4-bit layers cannot run here."""
    import torch

    try:
        version = importlib.metadata.version("bitsandbytes")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError("qlora needs the bitsandbytes package for its 4-bit base",
                          "pip install 'tunesmith[qlora]', or use method.name: lora.") from None
    release = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if release < MIN_BITSANDBYTES and not torch.cuda.is_available():
        raise ConfigError(f"bitsandbytes {version} has no 4-bit layers on CPU; qlora needs a CUDA GPU or "
                          f"bitsandbytes >= {'.'.join(map(str, MIN_BITSANDBYTES))}",
                          "pip install -U 'tunesmith[qlora]', or use method.name: lora.")


def training_device() -> torch.device:
    """Where train/ runs the model (`World.device`: this process's GPU when CUDA is available, else the
    CPU). The base is quantized there: transformers would otherwise put a 4-bit model on
    the first GPU, and the training strategy would move it back to the CPU."""
    from tunesmith.train.distributed import World

    return World(size=int(os.environ.get("WORLD_SIZE", "1"))).device


def load_overrides(options, config) -> dict:
    require_bitsandbytes()
    # On import, bitsandbytes warns on CPUs with AVX512-BF16 that an optional kernel for its packed
    # inference path is missing; qlora keeps layers off that path (keep_training_kernel), so it is noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    device = training_device()
    return {"quantization_config": quantization_config(options, cuda=device.type == "cuda"),
            "device_map": {"": device}}


def keep_training_kernel(model: torch.nn.Module) -> torch.nn.Module:
    """bitsandbytes repacks a CPU 4-bit layer for a faster bf16 kernel the first time it runs in eval mode
    without gradients (a validation pass). That kernel passes no gradient back to the layer's input, so
    LoRA layers below it would then train on wrong gradients, and its bf16 numerics differ from training's.
    Keep every 4-bit layer on the kernel it trains with."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
    return model


def release_checkpoint_file(model: torch.nn.Module) -> torch.nn.Module:
    """Copy the weights left in full precision (embeddings, norms, heads) out of the memory-mapped checkpoint.

    Quantizing read every page of the file, and while any tensor still points into the mapping those pages
    stay resident: on CPU a 4-bit base then took more memory than an fp32 LoRA run (SmolLM2-135M, batch 2 × 64,
    plan.measure: peak RSS 1.74 GB against LoRA's 1.60 GB). With the mapping released: 1.26 GB."""
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if type(tensor).__name__ != "Params4bit" and tensor.device.type == "cpu":
                tensor.data = tensor.data.clone()
    return model


def apply(model: torch.nn.Module, options, task: str) -> torch.nn.Module:
    from peft import prepare_model_for_kbit_training

    model = release_checkpoint_file(keep_training_kernel(model))
    # Freezes the base and upcasts half-precision non-quantized weights (norms) to fp32. Gradient
    # checkpointing was already set from training.gradient_checkpointing by train.setup.
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return lora.apply(model, options, task)


def load(base: torch.nn.Module, folder) -> torch.nn.Module:
    # A run loads onto the full-precision base (no 4-bit layers); a 4-bit base keeps the training kernel.
    return common.load(keep_training_kernel(base), folder)


METHOD = register(Method(
    name="qlora", summary="LoRA on a 4-bit (NF4) base: the least memory for the base; saves a LoRA adapter.",
    options=QloraOptions, family=Family.SHARED_BASE, apply=apply, save=common.save, load=load, merge=common.merge,
    costs=QloraCosts(), load_overrides=load_overrides, rank_options=low_rank.rank_options,
    base_only=common.base_only))
