"""Load tokenizers and models from resolved folders. Only safetensors weights are read."""

from __future__ import annotations

from pathlib import Path

import torch

from tunesmith.models.catalog import ResolvedModel, resolve

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def end_of_turn_ids(tokenizer, generation=None) -> set[int]:
    """Token ids that end an answer: the tokenizer's EOS plus the generation config's `eos_token_id`
    (one id or a list; chat models often add their end-of-turn token there). `generation` is a
    model's `generation_config`, the dict of a generation_config.json, or None."""
    eos = generation.get("eos_token_id") if isinstance(generation, dict) else getattr(generation, "eos_token_id", None)
    extra = eos if isinstance(eos, list) else [eos]
    return {token for token in [tokenizer.eos_token_id, *extra] if token is not None}


def _path(model: ResolvedModel | str | Path, trust_remote_code: bool) -> Path:
    """A ResolvedModel was checked when it was resolved; a name or path is resolved (and checked) here."""
    if isinstance(model, ResolvedModel):
        return model.path
    return resolve(str(model), trust_remote_code=trust_remote_code).path


def load_tokenizer(model: ResolvedModel | str | Path, trust_remote_code: bool = False):
    """A model's tokenizer; a tokenizer-only folder (JSON files, e.g. runs/<id>/tokenizer) works too."""
    from transformers import AutoTokenizer

    direct = not isinstance(model, ResolvedModel) and (Path(model) / "tokenizer_config.json").exists() \
        and not (Path(model) / "config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(Path(model) if direct else _path(model, trust_remote_code),
                                              trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_causal_lm(model: ResolvedModel | str | Path, dtype: str = "float32", trust_remote_code: bool = False,
                   **config_overrides):
    """config_overrides: values for the model's config (e.g. dropout), applied before its layers are built."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        _path(model, trust_remote_code), dtype=DTYPES[dtype], use_safetensors=True, trust_remote_code=trust_remote_code,
        **config_overrides)


def load_encoder(model: ResolvedModel | str | Path, dtype: str = "float32", trust_remote_code: bool = False,
                 **config_overrides):
    """The bare encoder (token vectors, no head): what an embedding model trains and pools."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(_path(model, trust_remote_code), dtype=DTYPES[dtype], use_safetensors=True,
                                     trust_remote_code=trust_remote_code, **config_overrides)


def load_classifier(model: ResolvedModel | str | Path, labels: list[str], dtype: str = "float32",
                    trust_remote_code: bool = False, **config_overrides):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        _path(model, trust_remote_code), num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)}, dtype=DTYPES[dtype],
        use_safetensors=True, trust_remote_code=trust_remote_code, **config_overrides)
