"""DoRA: LoRA plus a learned magnitude per output (weight-decomposed); often closer to full fine-tuning."""

from __future__ import annotations

from tunesmith.methods import Method, register
from tunesmith.methods import peft_common as common


def apply(model, options, task):
    from peft import LoraConfig

    return common.wrap(model, LoraConfig(
        task_type=common.task_type(task), r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
        target_modules=options.target_modules, use_dora=True))


METHOD = register(Method(
    name="dora", summary="LoRA plus a learned magnitude per output; often closer to full fine-tuning.",
    artifact="adapter", apply=apply, save=common.save, load=common.load, merge=common.merge))
