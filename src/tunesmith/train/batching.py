"""Data order and batches: a pure function of (examples, seed, epoch), so a resumed run sees the same order.

Global batches (batch_size × accumulation × processes examples) are drawn from a seeded shuffle and,
with length grouping, made of examples of similar length; each is cut into micro-batches, and process
`rank` takes its share. The same global batches therefore come out for 8×1, 1×8 or 2 processes × 4.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from tunesmith.train.encode import IGNORE, Example

MEGABATCH = 64  # global batches sorted together: similar lengths, still a fresh mix every epoch


@dataclass
class Step:
    """One optimizer step: this process's micro-batches and the step-wide count of loss targets."""

    micro_batches: list[list[int]]
    global_targets: int
    real_tokens: int  # non-padding tokens in this process's micro-batches


def global_batches(lengths: list[int], global_size: int, seed: int, epoch: int,
                   group_by_length: bool) -> list[list[int]]:
    order = list(range(len(lengths)))
    rng = random.Random(seed * 100_003 + epoch)
    rng.shuffle(order)
    if not group_by_length:
        return [order[i:i + global_size] for i in range(0, len(order), global_size)]
    batches: list[list[int]] = []
    span = global_size * MEGABATCH
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: (lengths[i], i))
        batches += [chunk[i:i + global_size] for i in range(0, len(chunk), global_size)]
    rng.shuffle(batches)
    return batches


def epoch_steps(examples: list[Example], batch_size: int, accumulation: int, seed: int, epoch: int,
                group_by_length: bool = True, rank: int = 0, world: int = 1) -> list[Step]:
    lengths = [len(ex) for ex in examples]
    steps = []
    for batch in global_batches(lengths, batch_size * accumulation * world, seed, epoch, group_by_length):
        # Sorting inside the global batch keeps each micro-batch tight whatever the grouping.
        batch = sorted(batch, key=lambda i: (lengths[i], i))
        micro = [batch[i:i + batch_size] for i in range(0, len(batch), batch_size)]
        per_rank = -(-len(micro) // world)
        mine = micro[rank * per_rank:(rank + 1) * per_rank]
        steps.append(Step(mine, sum(examples[i].targets for i in batch),
                          sum(lengths[i] for m in mine for i in m)))
    return steps


def collate(examples: list[Example], pad_id: int, classification: bool = False) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example in the micro-batch."""
    width = max(len(ex) for ex in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex)
        ids[row, :n] = torch.tensor(ex.input_ids)
        mask[row, :n] = 1
        if not classification:
            labels[row, :n] = torch.tensor(ex.labels)
    batch = {"input_ids": ids, "attention_mask": mask}
    if any(ex.segments for ex in examples):
        segments = torch.zeros_like(ids)
        for row, ex in enumerate(examples):
            if ex.segments:
                segments[row, :len(ex)] = torch.tensor(ex.segments)
        batch["token_type_ids"] = segments
    batch["labels"] = torch.tensor([ex.labels[0] for ex in examples]) if classification else labels
    return batch


def padding_share(examples: list[Example], steps: list[Step]) -> float:
    """Share of computed positions that were padding, over the given steps."""
    real = padded = 0
    for step in steps:
        for micro in step.micro_batches:
            lengths = [len(examples[i]) for i in micro]
            real += sum(lengths)
            padded += max(lengths) * len(lengths)
    return 1 - real / padded if padded else 0.0
