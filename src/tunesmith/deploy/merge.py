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


def save_hf(model, tokenizer, folder: Path, contract=None) -> None:
    """The model, its tokenizer (with the contract's chat template) and, for a generator, generation_config.json
    (end-of-turn ids and the contract's generation defaults)."""
    from tunesmith.deploy.package import generation_config, save_tokenizer

    model.save_pretrained(folder, safe_serialization=True)
    save_tokenizer(tokenizer, folder, contract)
    if model.can_generate():
        from tunesmith.models.loading import end_of_turn_ids

        eos = sorted(end_of_turn_ids(tokenizer, getattr(model, "generation_config", None)))
        generation_config(tokenizer, eos, contract).save_pretrained(folder)
