"""Prompt tuning: learned input embeddings (a soft prompt) before the real tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import Costs, Family, Method, MethodOptions, register


class PromptOptions(MethodOptions):
    name: Literal["prompt"] = Field("prompt", description="A learned soft prompt of virtual tokens.")
    num_virtual_tokens: int = Field(20, ge=1, le=512, description="Learned virtual tokens.")
    prompt_init_text: str | None = Field(None, description="Start the soft prompt from this text's embeddings "
                                         "instead of random values.")


class PromptCosts(Costs):
    def trainable(self, shape, options) -> int:
        return options.num_virtual_tokens * shape.hidden


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
    options=PromptOptions, family=Family.VIRTUAL_TOKENS, apply=apply, save=common.save, load=common.load,
    costs=PromptCosts(), base_only=common.base_only,
    # Decoder classifiers read the last position, which soft prompts make ambiguous under padding.
    decoder_classification=False))
