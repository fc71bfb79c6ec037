"""Prefix tuning: learned key/value vectors prepended in every attention layer (causal LMs only)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import CHAT_TASKS, Costs, Family, Method, MethodOptions, register


class PrefixOptions(MethodOptions):
    name: Literal["prefix"] = Field("prefix", description="Learned key/value prefixes in every attention layer.")
    num_virtual_tokens: int = Field(20, ge=1, le=512, description="Learned virtual tokens.")


class PrefixCosts(Costs):
    def trainable(self, shape, options) -> int:
        return options.num_virtual_tokens * shape.layers * 2 * shape.kv_dim


def apply(model, options, task):
    from peft import PrefixTuningConfig

    return common.wrap(model, PrefixTuningConfig(task_type=common.task_type(task),
                                                 num_virtual_tokens=options.num_virtual_tokens))


METHOD = register(Method(
    name="prefix", summary="Learned key/value prefixes in every attention layer; base weights untouched.",
    options=PrefixOptions, family=Family.VIRTUAL_TOKENS, apply=apply, save=common.save, load=common.load,
    tasks=CHAT_TASKS, costs=PrefixCosts(), base_only=common.base_only))
