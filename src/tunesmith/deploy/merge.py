"""Fold a run's adapter into plain weights and write a complete Hugging Face folder."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import TunesmithError


def merged_model(run):
    from peft import PeftModel

    from tunesmith.methods import get_method

    model = run.model
    if isinstance(model, PeftModel):
        method = get_method(run.info.method)
        if method.merge is None:
            raise TunesmithError(f"a {run.info.method} run cannot be merged into plain weights.",
                                 "Export it with --format adapter.")
        model = method.merge(model)
    return model.eval()


def save_hf(model, tokenizer, folder: Path) -> None:
    from transformers import GenerationConfig

    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    if model.can_generate():
        from tunesmith.models.loading import end_of_turn_ids

        eos = sorted(end_of_turn_ids(tokenizer, getattr(model, "generation_config", None)))
        GenerationConfig(eos_token_id=eos if len(eos) > 1 else eos[0], pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, do_sample=False).save_pretrained(folder)
