"""The bottleneck adapter's layers (torch modules, imported only when a model is built; see adapter.py)."""

from __future__ import annotations

import torch

ACTIVATIONS = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "tanh": torch.nn.Tanh}


class Bottleneck(torch.nn.Module):
    def __init__(self, width: int, size: int, activation: str, dropout: float):
        super().__init__()
        self.down = torch.nn.Linear(width, size)
        self.act = ACTIVATIONS[activation]()
        self.drop = torch.nn.Dropout(dropout)
        self.up = torch.nn.Linear(size, width)
        torch.nn.init.zeros_(self.up.weight)
        torch.nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(self.drop(self.act(self.down(hidden))))


class WithBottleneck(torch.nn.Module):
    """A feed-forward module followed by its adapter (skipped while `enabled` is off: the bare base)."""

    def __init__(self, inner: torch.nn.Module, adapter: Bottleneck):
        super().__init__()
        self.inner = inner
        self.adapter = adapter
        self.enabled = True

    def forward(self, *args, **kwargs):
        out = self.inner(*args, **kwargs)
        return self.adapter(out) if self.enabled else out
