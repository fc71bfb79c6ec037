"""What every export carries beside its weights, so the model travels with the way it was trained to be used.

- `inference.json`: the run's inference contract (`tunesmith serve` reads it back for the folder);
- the tokenizer with a chat template that adds the trained system prompt when a conversation brings none, so
  `apply_chat_template`, vLLM and llama.cpp prompt the model as training did without knowing the prompt;
- `generation_config.json` (hf): the end-of-turn ids and the contract's generation defaults;
- `README.md`: the run's model card, placed for the folder (`evaluate.model_card`);
- file permissions of any file the user writes (libraries leave weights 0600).
"""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.runs import CONTRACT_FILE, InferenceContract


def save_tokenizer(tokenizer, folder: Path, contract: InferenceContract | None) -> None:
    """`tokenizer.save_pretrained(folder)` with the contract's chat template (the tokenizer itself is unchanged)."""
    original = getattr(tokenizer, "chat_template", None)
    exported = contract.exported_template(original) if contract is not None and isinstance(original, str) else None
    if exported is None or exported == original:
        tokenizer.save_pretrained(folder)
        return
    tokenizer.chat_template = exported
    try:
        tokenizer.save_pretrained(folder)
    finally:
        tokenizer.chat_template = original


def generation_config(tokenizer, eos: list[int], contract: InferenceContract | None):
    """transformers' GenerationConfig: end-of-turn ids, and the contract's max tokens, temperature and stops."""
    from transformers import GenerationConfig

    settings: dict = {"eos_token_id": eos if len(eos) > 1 else eos[0], "pad_token_id": tokenizer.pad_token_id,
                      "bos_token_id": tokenizer.bos_token_id, "do_sample": False}
    if contract is not None:
        if contract.max_new_tokens:
            settings["max_new_tokens"] = contract.max_new_tokens
        if contract.temperature > 0:
            settings.update(do_sample=True, temperature=contract.temperature)
        if contract.stop:
            settings["stop_strings"] = list(contract.stop)
    return GenerationConfig(**settings)


def write_contract(folder: Path, contract: InferenceContract) -> Path:
    path = Path(folder) / CONTRACT_FILE
    path.write_text(json.dumps(contract.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def finish(run, folder: Path, kind: str) -> None:
    """The contract file, the model card and the permissions of a written export (`kind`: hf, adapter, gguf)."""
    from tunesmith.evaluate.model_card import export_card
    from tunesmith.permissions import as_user_files

    write_contract(folder, run.folder.inference_contract())
    export_card(run.folder, folder, kind)
    as_user_files(folder)
