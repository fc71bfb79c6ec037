"""Tiny random models with the bundled models' real tokenizers, for fast end-to-end tests.

`tiny_causal_lm()` is a 2-layer Llama shaped like SmolLM2; `tiny_encoder()` a 2-layer BERT shaped like
MiniLM. `save_tiny(kind, folder)` writes either as a normal Hugging Face folder, so anything that accepts
a model name accepts it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tunesmith.models.catalog import CATALOG
from tunesmith.models.convert import cache_root


def real_tokenizer(name: str):
    """The tokenizer of a catalog model; for GGUF models only the tokenizer is extracted (once)."""
    from transformers import AutoTokenizer

    entry = CATALOG[name]
    shipped = entry.shipped_path()
    if shipped is None:
        raise RuntimeError(f"install {entry.package} to build tiny test models")
    if entry.source_format == "hf":
        return AutoTokenizer.from_pretrained(shipped)
    folder = cache_root() / "tokenizers" / name
    if not (folder / "tokenizer.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(shipped.parent, gguf_file=shipped.name)
        folder.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def tiny_causal_lm(hidden: int = 64, layers: int = 2, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = real_tokenizer("smollm2-135m-instruct")
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4,
        max_position_embeddings=2048, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval(), tokenizer


def lively_causal_lm(seed: int = 1):
    """`tiny_causal_lm()` with wider random weights, so greedy answers differ per prompt (not all '\\n')."""
    model, tokenizer = tiny_causal_lm()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model, tokenizer


def tiny_encoder(hidden: int = 32, layers: int = 2, seed: int = 0):
    from transformers import BertConfig, BertModel

    tokenizer = real_tokenizer("minilm-l6")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                        num_hidden_layers=layers, num_attention_heads=2, max_position_embeddings=512,
                        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return BertModel(config).eval(), tokenizer


def save_tiny(kind: str, folder: str | Path, **kwargs) -> Path:
    """Write a tiny model ('causal-lm' or 'encoder') and its tokenizer as a Hugging Face folder."""
    folder = Path(folder)
    model, tokenizer = (tiny_causal_lm if kind == "causal-lm" else tiny_encoder)(**kwargs)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / "tunesmith-tiny.json").write_text(json.dumps({"kind": kind, **kwargs}))
    return folder
