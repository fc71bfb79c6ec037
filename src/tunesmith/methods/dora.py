"""DoRA: LoRA plus a learned magnitude per output (weight-decomposed); often closer to full fine-tuning."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.methods import low_rank
from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import Family, Method, register


class DoraOptions(low_rank.LowRankOptions):
    name: Literal["dora"] = Field("dora", description="LoRA plus a learned magnitude per output.")


class DoraCosts(low_rank.LowRankCosts):
    def trainable(self, shape, options) -> int:
        magnitudes = sum(repeat * o for repeat, group in self.groups(shape, options) for _, o in group)
        return super().trainable(shape, options) + magnitudes

    def flops(self, shape, options, step) -> float:
        # DoRA rebuilds W + BA (a rank-r product) for its weight norms every step, and with dropout it runs
        # each base layer a second time on the dropped-out input.
        flops = super().flops(shape, options, step) + 3.0 * 2.0 * options.r * shape.layer_linear_params * shape.layers
        return flops + (2.0 * low_rank.blocks_flops(shape, step) if options.dropout > 0 else 0.0)

    def elementwise(self, shape, options, step) -> float:
        # W + BA and its norms, forward and backward
        return super().elementwise(shape, options, step) + 4 * shape.layer_linear_params * shape.layers

    def buffer_bytes(self, shape, options, width) -> float:
        return 2.0 * shape.layers * shape.layer_linear_params * width  # W + BA and its norm per adapted layer


def apply(model, options, task):
    from peft import LoraConfig

    return common.wrap(model, LoraConfig(
        task_type=common.task_type(task), r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
        target_modules=options.target_modules, use_dora=True))


METHOD = register(Method(
    name="dora", summary="LoRA plus a learned magnitude per output; often closer to full fine-tuning.",
    options=DoraOptions, family=Family.SHARED_BASE, apply=apply, save=common.save, load=common.load,
    merge=common.merge, costs=DoraCosts(), rank_options=low_rank.rank_options, base_only=common.base_only))
