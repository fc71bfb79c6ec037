"""LoRA: Low-rank updates on the chosen linear layers; the usual best trade-off."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.methods import low_rank
from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import EMBEDDING_TASKS, Family, Method, register


class LoraOptions(low_rank.LowRankOptions):
    name: Literal["lora"] = Field("lora", description="Low-rank updates on the chosen linear layers.")


def apply(model, options, task):
    from peft import LoraConfig

    return common.wrap(model, LoraConfig(
        task_type=common.task_type(task), r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
        target_modules=options.target_modules, use_dora=False))


METHOD = register(Method(
    name="lora", summary="Low-rank updates on the chosen linear layers; the usual best trade-off.",
    options=LoraOptions, family=Family.SHARED_BASE, apply=apply, save=common.save, load=common.load,
    merge=common.merge, costs=low_rank.LowRankCosts(), rank_options=low_rank.rank_options,
    base_only=common.base_only, tasks=EMBEDDING_TASKS))
