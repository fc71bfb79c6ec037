"""The micro-batches an epoch will have, from token counts alone (pure).

Mirrors the trainer's batching: with length grouping, examples of similar length share a micro-batch,
so each is padded only to its own longest example; without it, batches are a seeded random mix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.plan.memory import StepShape

if TYPE_CHECKING:
    from tunesmith.objectives import Objective


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


@dataclass(frozen=True)
class ObjectiveWork:
    """What one micro-batch of examples costs under a training objective (objectives/registry.py)."""

    trained: StepShape  # sequences trained with gradients
    forward_only: StepShape | None = None  # sequences run forward without gradients every step (KTO's KL baseline)
    reference: StepShape | None = None  # sequences the reference model scores once, before training


def objective_work(step: StepShape, objective: Objective) -> ObjectiveWork:
    """A pair trains its chosen and its rejected answer: twice the sequences and loss positions (a rejected
    answer is taken as long as the chosen one, which the dataset's token counts measure). KTO trains each rated
    answer and runs a mismatched one forward for its KL baseline. Objectives with a reference model score every
    trained (and KL) sequence once before training, in chunks of the training micro-batch."""
    n = objective.sequences
    trained = StepShape(step.batch_size * n, step.seq_len, step.targets * n)
    forward_only = step if objective.kl_pass else None
    if not objective.reference:
        return ObjectiveWork(trained, forward_only)
    rows = trained.batch_size + (step.batch_size if objective.kl_pass else 0)
    targets = trained.targets + (step.targets if objective.kl_pass else 0)
    return ObjectiveWork(trained, forward_only, StepShape(rows, step.seq_len, targets))
