"""The numbers the planner needs about a model, read from its config.json (no weights are loaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError


@dataclass(frozen=True)
class ModelShape:
    kind: str  # "causal-lm" or "encoder"
    vocab: int
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_dim: int  # width of the key (= value) projection; smaller than hidden with grouped-query attention
    tied_embeddings: bool
    positions: int = 0  # learned position embeddings (encoders), 0 for rotary models

    @property
    def layer_linear_params(self) -> int:
        """Weights of the linear layers in one transformer block."""
        h, i = self.hidden, self.intermediate
        attention = h * h * 2 + h * self.kv_dim * 2
        mlp = 3 * h * i if self.kind == "causal-lm" else 2 * h * i
        return attention + mlp

    @property
    def layer_linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer in one block, the ones "all-linear" adapters wrap."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        attention = [(h, h), (h, kv), (h, kv), (h, h)]
        mlp = [(h, i), (h, i), (i, h)] if self.kind == "causal-lm" else [(h, i), (i, h)]
        return attention + mlp

    @property
    def total_params(self) -> int:
        h = self.hidden
        norms = (2 * h) if self.kind == "causal-lm" else (4 * h)
        biases = 0 if self.kind == "causal-lm" else (4 * h + self.intermediate + h)
        per_layer = self.layer_linear_params + norms + biases
        embeddings = self.vocab * h + self.positions * h
        if self.kind != "causal-lm":  # token types, embedding LayerNorm and pooler; no final norm
            return embeddings + 4 * h + self.layers * per_layer + h * h + h
        head = 0 if self.tied_embeddings else self.vocab * h
        return embeddings + self.layers * per_layer + head + h


def shape_from_config(config: dict) -> ModelShape:
    """Pure: a Hugging Face config dict (Llama, Qwen2, Mistral, Gemma, GPT-2 style or BERT style) → shape."""
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    layers = config.get("num_hidden_layers") or config.get("n_layer")
    if not hidden or not layers:
        raise TunesmithError("the model's config.json has no hidden_size/num_hidden_layers",
                             "The planner supports transformer models with a standard Hugging Face config.")
    heads = config.get("num_attention_heads") or config.get("n_head") or 1
    head_dim = config.get("head_dim") or hidden // heads
    kv_heads = config.get("num_key_value_heads") or heads
    archs = " ".join(config.get("architectures") or [])
    decoder = "CausalLM" in archs or config.get("model_type") in {"llama", "qwen2", "qwen3", "mistral", "gemma3",
                                                                   "gemma", "gpt2", "phi3", "smollm3"}
    return ModelShape(
        kind="causal-lm" if decoder else "encoder", vocab=int(config.get("vocab_size", 0)), hidden=int(hidden),
        layers=int(layers), intermediate=int(config.get("intermediate_size") or config.get("n_inner") or 4 * hidden),
        heads=int(heads), kv_dim=int(kv_heads * head_dim),
        tied_embeddings=bool(config.get("tie_word_embeddings", True)),
        positions=0 if decoder else int(config.get("max_position_embeddings", 0)),
    )


def model_shape(model_name: str, trust_remote_code: bool = False) -> ModelShape:
    """Shape of a catalog model or local folder, from its config.json (refused as training would refuse it)."""
    from tunesmith.models.catalog import resolve

    path = Path(resolve(model_name, trust_remote_code=trust_remote_code).path) / "config.json"
    return shape_from_config(json.loads(path.read_text(encoding="utf-8")))
