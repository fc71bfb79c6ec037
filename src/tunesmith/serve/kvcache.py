"""Reshape a batch's KV cache as sequences join and leave (continuous batching).

Rows are left-padded: every row's cache has the same length, padding sits at the start and is masked
out by the attention mask. Rotary positions are baked into the cached keys, so shifting a row's
padding never changes what it attends to.
"""

from __future__ import annotations

import torch


def supports_reshaping(cache) -> bool:
    """Only plain full-attention layers can be concatenated and trimmed safely."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


def _left_pad(tensor: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    missing = length - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def merge(cache_a, mask_a: torch.Tensor, cache_b, mask_b: torch.Tensor) -> tuple[object, torch.Tensor]:
    """Append the rows of batch b to batch a (in place on cache_a); returns (cache, mask)."""
    length = max(mask_a.shape[1], mask_b.shape[1])
    for layer_a, layer_b in zip(cache_a.layers, cache_b.layers, strict=True):
        layer_a.keys = torch.cat([_left_pad(layer_a.keys, length, 2), _left_pad(layer_b.keys, length, 2)])
        layer_a.values = torch.cat([_left_pad(layer_a.values, length, 2), _left_pad(layer_b.values, length, 2)])
    mask = torch.cat([_left_pad(mask_a, length, 1), _left_pad(mask_b, length, 1)])
    return cache_a, mask


def keep_rows(cache, mask: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """Drop finished rows, then the leading columns that are padding in every remaining row."""
    index = torch.tensor(rows, dtype=torch.long)
    mask = mask[index]
    real = mask.sum(dim=0) > 0
    start = int(torch.nonzero(real)[0]) if bool(real.any()) else 0
    for layer in cache.layers:
        layer.keys = layer.keys[index, :, start:]
        layer.values = layer.values[index, :, start:]
    return mask[:, start:]


def take_rows(cache, index: torch.Tensor) -> None:
    """Rows of the cache picked (and repeated) by `index`, in place: twin rows share a prompt's KV."""
    for layer in cache.layers:
        layer.keys = layer.keys[index]
        layer.values = layer.values[index]
