"""Teacher-forced next-token agreement: the export scores the reference's own greedy answer.

Exact match of whole greedy answers is the right bar for float exports, but one near-tied token early
in an answer sends greedy decoding down another path, so quantized weights (which move logits by a few
hundredths) fail it on a small model even when they are faithful. Here the export is fed the prompt
plus the reference answer and, at every position, its most likely next token is compared with the
reference's token: one flip costs one position, not the rest of the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Case = tuple[list[int], list[int]]  # (prompt ids as the export renders them, reference answer ids)
Scorer = Callable[[Sequence[Case]], list[list[int]]]  # the export's argmax at each answer position


def targets_of(answer) -> list[int]:
    """The reference answer's token ids, with the end-of-turn token that closed it (if it stopped)."""
    ids = list(answer.completion_ids or [])
    return ids + ([answer.end_id] if answer.end_id is not None else [])


def agreement(targets: Sequence[int], predicted: Sequence[int]) -> tuple[int, int]:
    """(positions where the prediction equals the target, positions scored)."""
    if len(predicted) != len(targets):
        raise ValueError(f"{len(predicted)} predictions for {len(targets)} targets")
    return sum(int(a == b) for a, b in zip(targets, predicted, strict=True)), len(targets)


def first_difference(reference: Sequence, candidate: Sequence) -> int | None:
    """Index of the first differing element (a shorter prefix differs at its end); None when equal."""
    if list(reference) == list(candidate):
        return None
    for index, (a, b) in enumerate(zip(reference, candidate, strict=False)):
        if a != b:
            return index
    return min(len(reference), len(candidate))


def transformers_scorer(model) -> Scorer:
    """One forward pass per case over prompt + answer (minus its last token)."""
    import torch

    @torch.inference_mode()
    def score(cases: Sequence[Case]) -> list[list[int]]:
        out = []
        for prompt_ids, targets in cases:
            if not targets:
                out.append([])
                continue
            ids = torch.tensor([list(prompt_ids) + list(targets[:-1])])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, len(prompt_ids) - 1:]
            out.append(logits.argmax(-1).tolist())
        return out

    return score
