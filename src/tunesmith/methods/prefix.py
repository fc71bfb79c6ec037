"""Prefix tuning: learned key/value vectors prepended in every attention layer (causal LMs only)."""

from __future__ import annotations

from tunesmith.methods import CHAT_TASKS, Method, register
from tunesmith.methods import peft_common as common


def apply(model, options, task):
    from peft import PrefixTuningConfig

    return common.wrap(model, PrefixTuningConfig(task_type=common.task_type(task),
                                                 num_virtual_tokens=options.num_virtual_tokens))


METHOD = register(Method(
    name="prefix", summary="Learned key/value prefixes in every attention layer; base weights untouched.",
    artifact="adapter", apply=apply, save=common.save, load=common.load, tasks=CHAT_TASKS,
    virtual_tokens=True))
