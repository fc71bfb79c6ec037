"""Prefix reuse: skip prefilling the tokens a new prompt shares with the last prompt seen (often the chat
template's system prompt, ~30 tokens of a ~40-token chat prompt).

One entry per loaded model (its KV depends on the weights, adapters included): the key/value tensors of
the most recently prefilled prompt. A group of newcomers is prefilled as
`[shared prefix | padding | own suffix]` per row, with the prefix copied from the entry; padding in the
middle is masked like left padding, and positions continue after the prefix, so each row attends to
exactly what a full prefill would have given it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MIN_SHARED = 8  # below this, copying the prefix saves too little to bother
MAX_KEPT = 1024  # tokens of the last prompt kept (SmolLM2-135M: ~46 KB of KV per token)
# A group of newcomers whose prompts share this many more tokens than the entry holds gets that start prefilled
# once, alone, first (evaluation's held-out prompts: system prompt, tool schemas, few-shot examples).
GROUP_MIN_SHARED = 32


@dataclass
class PrefixEntry:
    ids: list[int]
    keys: list[torch.Tensor]  # per layer: [1, kv_heads, len(ids), head_dim]
    values: list[torch.Tensor]


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shared_length(entry: PrefixEntry | None, prompts: list[list[int]]) -> int:
    """Tokens every prompt shares with the entry, leaving at least one token of each prompt to compute."""
    if entry is None or not prompts:
        return 0
    shared = min(min(_common(entry.ids, p) for p in prompts), min(len(p) for p in prompts) - 1)
    return shared if shared >= MIN_SHARED else 0


def group_start(entry: PrefixEntry | None, prompts: list[list[int]]) -> int:
    """Tokens the group's prompts share with each other (leaving one of each to compute) when that is
    GROUP_MIN_SHARED more than they share with the entry, else 0."""
    if len(prompts) < 2:
        return 0
    first = prompts[0]
    common = min(min(_common(first, p) for p in prompts[1:]), min(len(p) for p in prompts) - 1, MAX_KEPT)
    return common if common - shared_length(entry, prompts) >= GROUP_MIN_SHARED else 0


def seeded_cache(config, entry: PrefixEntry, shared: int, rows: int):
    """A fresh DynamicCache holding the entry's first `shared` positions for each of `rows` rows."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    for index, (keys, values) in enumerate(zip(entry.keys, entry.values, strict=True)):
        cache.update(keys[:, :, :shared].expand(rows, -1, -1, -1).contiguous(),
                     values[:, :, :shared].expand(rows, -1, -1, -1).contiguous(), index)
    return cache


def remember(cache, prompts: list[list[int]]) -> PrefixEntry:
    """The entry for the group's longest prompt (its row is the one without padding), first MAX_KEPT tokens."""
    row = max(range(len(prompts)), key=lambda i: len(prompts[i]))
    size = len(prompts[row])
    kept = slice(-size, -size + MAX_KEPT if size > MAX_KEPT else None)
    return PrefixEntry(list(prompts[row][:MAX_KEPT]),
                       [layer.keys[row:row + 1, :, kept].clone() for layer in cache.layers],
                       [layer.values[row:row + 1, :, kept].clone() for layer in cache.layers])
