"""IA3: learned scaling vectors on attention keys/values and the feed-forward output; the fewest parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.methods import peft_common as common
from tunesmith.methods.registry import Costs, Family, Method, MethodOptions, register


class Ia3Options(MethodOptions):
    name: Literal["ia3"] = Field("ia3", description="Learned scaling vectors on keys, values and feed-forward.")
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules to scale: 'all-linear' means the library's per-architecture default "
        "(keys, values, feed-forward output), or module names.")


class Ia3Costs(Costs):
    def trainable(self, shape, options) -> int:
        if shape.kind == "causal-lm":  # key, value and the MLP output's input
            return shape.layers * (2 * shape.kv_dim + shape.intermediate)
        # key, value, and the inputs of both output projections (attention and MLP)
        return shape.layers * (3 * shape.hidden + shape.intermediate)

    def saved_floats(self, shape, options, seq_len) -> float:
        # Decoder blocks: the scaled key/value outputs are kept; no LoRA branch input is.
        return 2 * shape.kv_dim - shape.hidden if shape.kind == "causal-lm" else 0.0


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
    options=Ia3Options, family=Family.INSERTED, apply=apply, save=common.save, load=common.load,
    merge=common.merge, costs=Ia3Costs(), base_only=common.base_only))
