"""How many parameters each fine-tuning method trains, from the model's shape alone (pure)."""

from __future__ import annotations

from tunesmith.config.method import MethodConfig
from tunesmith.plan.shapes import ModelShape

IA3_LLAMA = ("k", "v", "down")  # PEFT's default IA3 targets for decoder models: key, value, MLP output


def _adapted_shapes(shape: ModelShape, targets: str | list[str]) -> list[tuple[int, int]]:
    if targets == "all-linear":
        return shape.layer_linear_shapes
    names = ["q", "k", "v", "o", "gate", "up", "down"] if shape.kind == "causal-lm" else \
        ["query", "key", "value", "attention.output", "intermediate", "output"]
    wanted = [targets] if isinstance(targets, str) else list(targets)
    return [dims for name, dims in zip(names, shape.layer_linear_shapes, strict=False)
            if any(w.startswith(name) or name.startswith(w.split("_")[0]) for w in wanted)]


LOW_RANK = ("lora", "dora", "qlora")  # methods that add rank-r LoRA matrices


def classifier_head(shape: ModelShape, labels: int) -> int:
    """A new sequence-classification head is always trained (with a bias on encoders)."""
    if not labels:
        return 0
    return shape.hidden * labels + (labels if shape.kind == "encoder" else 0)


def trainable_params(shape: ModelShape, method: MethodConfig, labels: int = 0) -> int:
    """Parameters that get gradients and optimizer state; a classification head adds its own."""
    head = classifier_head(shape, labels)
    name = method.name
    if name == "full":
        return shape.total_params + head
    if name in LOW_RANK:
        modules = _adapted_shapes(shape, method.target_modules)
        if shape.kind == "encoder" and method.target_modules == "all-linear":
            modules_once = [(shape.hidden, shape.hidden)]  # the pooler is a linear layer too
        else:
            modules_once = []
        count = 0
        for repeat, group in ((shape.layers, modules), (1, modules_once)):
            per = sum(method.r * (i + o) for i, o in group)
            if name == "dora":
                per += sum(o for _, o in group)  # one magnitude per output feature
            count += repeat * per
        return count + head
    if name == "ia3":
        if shape.kind == "causal-lm":
            return shape.layers * (2 * shape.kv_dim + shape.intermediate) + head
        # key, value, and the inputs of both output projections (attention and MLP)
        return shape.layers * (3 * shape.hidden + shape.intermediate) + head
    if name == "prefix":
        return method.num_virtual_tokens * shape.layers * 2 * shape.kv_dim + head
    if name == "prompt":
        return method.num_virtual_tokens * shape.hidden + head
    if name == "adapter":
        b = method.bottleneck_size
        return shape.layers * (2 * shape.hidden * b + b + shape.hidden) + head
    raise ValueError(f"no trainable-parameter rule for method {name}")


def adapted_modules(shape: ModelShape, method: MethodConfig) -> int:
    """LoRA/DoRA modules per block (each keeps a rank-r activation per token)."""
    if method.name not in LOW_RANK:
        return 0
    return len(_adapted_shapes(shape, method.target_modules))


def adapted_width(shape: ModelShape, method: MethodConfig) -> int:
    """Sum of in + out features over one block's LoRA/DoRA modules (their rank-r matmuls scale with it)."""
    if method.name not in LOW_RANK:
        return 0
    return sum(i + o for i, o in _adapted_shapes(shape, method.target_modules))
