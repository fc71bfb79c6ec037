"""What LoRA, DoRA and QLoRA share: their options (rank, scale, dropout, targets) and planner terms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from tunesmith.methods.registry import Costs, MethodOptions

if TYPE_CHECKING:
    from tunesmith.plan.memory import StepShape
    from tunesmith.plan.shapes import ModelShape

# LoRA's rank-r matmuls are memory-bound: each reads and writes its input and output widths about this
# many times per token (forward, the input gradient, the adapter weights' gradients, dropout).
ADAPTER_PASSES = 4


class LowRankOptions(MethodOptions):
    r: int = Field(16, ge=1, description="Rank of the low-rank update.")
    alpha: int = Field(32, ge=1, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: str | list[str] = Field("all-linear", description="Linear layers to adapt: 'all-linear' or "
                                            "module names (e.g. [q_proj, v_proj]).")


def rank_options(r: int) -> dict:
    """Rank r with the scale alpha / r = 2 that presets and tuning keep."""
    return {"r": r, "alpha": 2 * r}


def adapted_shapes(shape: ModelShape, targets: str | list[str]) -> list[tuple[int, int]]:
    """(in, out) of the linear layers of one block that `target_modules` names."""
    if targets == "all-linear":
        return shape.layer_linear_shapes
    names = ["q", "k", "v", "o", "gate", "up", "down"] if shape.kind == "causal-lm" else \
        ["query", "key", "value", "attention.output", "intermediate", "output"]
    wanted = [targets] if isinstance(targets, str) else list(targets)
    return [dims for name, dims in zip(names, shape.layer_linear_shapes, strict=False)
            if any(w.startswith(name) or name.startswith(w.split("_")[0]) for w in wanted)]


def adapter_dropout_floats(shape: ModelShape) -> float:
    """Dropout on an adapter's input keeps a mask and the dropped-out copy of each adapted layer's input."""
    h, i = shape.hidden, shape.intermediate
    return 7 * h + i if shape.kind == "encoder" else 10 * h + i


def blocks_flops(shape: ModelShape, step: StepShape) -> float:
    """Forward matmul FLOPs of every block's linear layers."""
    return 2.0 * step.tokens * shape.layer_linear_params * shape.layers


class LowRankCosts(Costs):
    def groups(self, shape: ModelShape, options) -> list[tuple[int, list[tuple[int, int]]]]:
        """(how many, [(in, out) of each adapted layer]): once per block, plus an encoder's pooler."""
        once = [(shape.hidden, shape.hidden)] if shape.kind == "encoder" and options.target_modules == "all-linear" \
            else []
        return [(shape.layers, adapted_shapes(shape, options.target_modules)), (1, once)]

    def trainable(self, shape, options) -> int:
        return sum(repeat * options.r * (i + o) for repeat, group in self.groups(shape, options) for i, o in group)

    def width(self, shape: ModelShape, options) -> int:
        """Sum of in + out features over one block's adapted layers (their rank-r matmuls scale with it)."""
        return sum(i + o for i, o in adapted_shapes(shape, options.target_modules))

    def saved_floats(self, shape, options, seq_len) -> float:
        floats = len(adapted_shapes(shape, options.target_modules)) * options.r  # a rank-r activation each
        return floats + (adapter_dropout_floats(shape) if options.dropout > 0 else 0.0)

    def flops(self, shape, options, step) -> float:
        return 3.0 * 2.0 * step.tokens * options.r * shape.layers * self.width(shape, options)

    def elementwise(self, shape, options, step) -> float:
        return ADAPTER_PASSES * step.tokens * shape.layers * self.width(shape, options)
