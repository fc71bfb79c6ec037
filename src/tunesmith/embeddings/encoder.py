"""A text encoder as an embedding model: token vectors → one pooled (and normalized) vector per text.

`SentenceEncoder` wraps any Hugging Face encoder (a plain `BertModel`, a PEFT-wrapped one, a merged run)
with the pooling sentence-transformers would use for the same folder, so tunesmith's embeddings equal
`SentenceTransformer(folder).encode(...)` (tests/embeddings/test_encoder.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

POOLINGS = ("mean", "cls", "max")


def folder_pooling(folder: str | Path) -> str | None:
    """The pooling a sentence-transformers folder declares (1_Pooling/config.json), else None."""
    folder = Path(folder)
    modules = folder / "modules.json"
    candidates = [folder / "1_Pooling" / "config.json"]
    if modules.exists():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Pooling"):
                candidates.insert(0, folder / module.get("path", "") / "config.json")
    for path in candidates:
        if path.exists():
            config = json.loads(path.read_text(encoding="utf-8"))
            if config.get("pooling_mode") in POOLINGS:
                return config["pooling_mode"]
            for mode in POOLINGS:
                if config.get(f"pooling_mode_{mode}_token") or config.get(f"pooling_mode_{mode}_tokens"):
                    return mode
    return None


def folder_normalizes(folder: str | Path) -> bool | None:
    """Whether a sentence-transformers folder ends with a Normalize module (None: not such a folder)."""
    modules = Path(folder) / "modules.json"
    if not modules.exists():
        return None
    return any(m.get("type", "").endswith("Normalize") for m in json.loads(modules.read_text(encoding="utf-8")))


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def embed_tokens(encoder: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, pooling: str,
                 normalize: bool) -> torch.Tensor:
    """One vector per row of token ids (the one forward the loss, evaluation and the server share)."""
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    vectors = pool(hidden, attention_mask, pooling)
    return F.normalize(vectors, dim=-1) if normalize else vectors


@dataclass
class SentenceEncoder:
    """Encoder + tokenizer + pooling: `encode(texts)` gives a float32 array (n, dim)."""

    model: torch.nn.Module
    tokenizer: object
    pooling: str = "mean"
    normalize: bool = True
    max_length: int = 256
    matryoshka_dims: tuple[int, ...] = ()

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str], batch_size: int = 64, dimensions: int | None = None) -> np.ndarray:
        """Embeddings of `texts` (truncated to max_length); `dimensions` truncates (and re-normalizes)."""
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"] if texts else []
        return self.encode_ids(ids, batch_size, dimensions)

    @torch.inference_mode()
    def encode_ids(self, ids: Sequence[Sequence[int]], batch_size: int = 64,
                   dimensions: int | None = None) -> np.ndarray:
        """Embeddings of tokenized texts, batched by similar length (each chunk padded to its longest)."""
        self.model.eval()
        pad = self.tokenizer.pad_token_id or 0
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), dimensions or self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            width = max(len(ids[i]) for i in chunk)
            tokens = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                tokens[row, :len(ids[i])] = torch.tensor(ids[i])
                mask[row, :len(ids[i])] = 1
            vectors = self.forward_chunk(tokens, mask)
            if dimensions is not None:
                vectors = vectors[:, :dimensions]
                vectors = F.normalize(vectors, dim=-1) if self.normalize else vectors
            out[chunk] = vectors.float().cpu().numpy()
        return out

    def forward_chunk(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled (and normalized) vectors of one padded chunk; a serving runtime replaces only this."""
        device = next(self.model.parameters()).device
        return embed_tokens(self.model, tokens.to(device), mask.to(device), self.pooling, self.normalize)


def resolve_pooling(requested: str, folder: str | Path) -> str:
    return requested if requested != "auto" else folder_pooling(folder) or "mean"
