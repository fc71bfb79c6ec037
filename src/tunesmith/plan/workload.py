"""The micro-batches an epoch will have, from token counts alone (pure).

Mirrors the trainer's batching: with length grouping, examples of similar length share a micro-batch,
so each is padded only to its own longest example; without it, batches are a seeded random mix.
"""

from __future__ import annotations

import random

from tunesmith.plan.memory import StepShape


def micro_batches(lengths: list[int], targets: list[int], batch_size: int, group_by_length: bool,
                  seed: int = 0) -> list[StepShape]:
    order = list(range(len(lengths)))
    if group_by_length:
        order.sort(key=lambda i: lengths[i])
    else:
        random.Random(seed).shuffle(order)
    shapes = []
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        shapes.append(StepShape(len(chunk), max(lengths[i] for i in chunk), sum(targets[i] for i in chunk)))
    return shapes


def largest(shapes: list[StepShape]) -> StepShape:
    """The micro-batch that sets peak memory: most logit rows, then most tokens."""
    return max(shapes, key=lambda s: (s.targets * 50 + s.tokens, s.tokens))


def default_targets(lengths: list[int], task: str) -> list[int]:
    """Loss-carrying positions when only lengths are known: chat answers ≈ half of each example."""
    if task == "classification":
        return [1] * len(lengths)
    if task == "text":
        return [max(1, n - 1) for n in lengths]
    return [max(1, n // 2) for n in lengths]
