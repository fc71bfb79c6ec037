"""Fold a run's adapter into plain weights and write a complete Hugging Face folder."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import TunesmithError


def eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    extra = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(extra if isinstance(extra, list) else [extra] if extra is not None else [])
    return ids


def merged_model(run):
    from peft import PeftModel

    from tunesmith.methods import get_method

    model = run.model
    if isinstance(model, PeftModel):
        method = get_method(run.info["method"])
        if method.merge is None:
            raise TunesmithError(f"a {run.info['method']} run cannot be merged into plain weights.",
                                 "Export it with --format adapter.")
        model = method.merge(model)
    return model.eval()


def save_hf(model, tokenizer, folder: Path) -> None:
    from transformers import GenerationConfig

    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    if model.can_generate():
        eos = sorted(eos_ids(model, tokenizer))
        GenerationConfig(eos_token_id=eos if len(eos) > 1 else eos[0], pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, do_sample=False).save_pretrained(folder)
