"""IA3: learned scaling vectors on attention keys/values and the feed-forward output; the fewest parameters."""

from __future__ import annotations

from tunesmith.methods import Method, register
from tunesmith.methods import peft_common as common


def apply(model, options, task):
    from peft import IA3Config

    # PEFT knows which modules IA3 scales for each architecture; explicitly named modules are
    # scaled on their outputs (none treated as feed-forward, which would scale inputs instead).
    if options.target_modules == "all-linear":
        config = IA3Config(task_type=common.task_type(task))
    else:
        config = IA3Config(task_type=common.task_type(task), target_modules=options.target_modules,
                           feedforward_modules=[])
    return common.wrap(model, config)


METHOD = register(Method(
    name="ia3", summary="Learned scaling vectors on keys, values and feed-forward; tiny and fast.",
    artifact="adapter", apply=apply, save=common.save, load=common.load, merge=common.merge))
