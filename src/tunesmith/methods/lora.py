"""LoRA: Low-rank updates on the chosen linear layers; the usual best trade-off."""

from __future__ import annotations

from tunesmith.methods import Method, register
from tunesmith.methods import peft_common as common


def apply(model, options, task):
    from peft import LoraConfig

    return common.wrap(model, LoraConfig(
        task_type=common.task_type(task), r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
        target_modules=options.target_modules, use_dora=False))


METHOD = register(Method(
    name="lora", summary="Low-rank updates on the chosen linear layers; the usual best trade-off.",
    artifact="adapter", apply=apply, save=common.save, load=common.load, merge=common.merge))
