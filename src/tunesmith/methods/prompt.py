"""Prompt tuning: learned input embeddings (a soft prompt) before the real tokens."""

from __future__ import annotations

from tunesmith.methods import Method, register
from tunesmith.methods import peft_common as common


def apply(model, options, task):
    from peft import PromptTuningConfig, PromptTuningInit

    extra = {}
    if options.prompt_init_text:
        extra = {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": options.prompt_init_text,
                 "tokenizer_name_or_path": model.config.name_or_path}
    return common.wrap(model, PromptTuningConfig(task_type=common.task_type(task),
                                                 num_virtual_tokens=options.num_virtual_tokens, **extra))


METHOD = register(Method(
    name="prompt", summary="A learned soft prompt of virtual tokens; the smallest adapter.",
    artifact="adapter", apply=apply, save=common.save, load=common.load, virtual_tokens=True,
    # Decoder classifiers read the last position, which soft prompts make ambiguous under padding.
    decoder_classification=False))
