"""Side-by-side chat: the same conversation sent to the base model and to a fine-tuned run.

Models stay loaded between messages (at most a few, keyed by folder) because loading costs seconds. A run
answers under its inference contract, as every deployment of it does: its trained system prompt when the
conversation brings none, and its generation defaults (evaluation's: greedy, its token limit).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tunesmith.studio.context import api


@dataclass
class Loaded:
    model: object
    tokenizer: object
    labels: list[str] | None = None
    contract: object | None = None  # tunesmith.runs.InferenceContract of a run; None for the base model

    def __iter__(self):  # (model, tokenizer, labels), as callers unpack it
        return iter((self.model, self.tokenizer, self.labels))

_cache: dict[tuple[str, str], Loaded] = {}
_lock = threading.Lock()
MAX_LOADED = 3


def _remember(key: tuple[str, str], loader) -> Loaded:
    with _lock:
        if key not in _cache:
            if len(_cache) >= MAX_LOADED:
                _cache.pop(next(iter(_cache)))
            _cache[key] = loader()
        return _cache[key]


def base_model(project) -> Loaded:
    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    config = project.config.model
    resolved = resolve(config.name, trust_remote_code=config.trust_remote_code)
    return _remember(("base", str(resolved.path)), lambda: Loaded(
        load_causal_lm(resolved, dtype=config.dtype, trust_remote_code=config.trust_remote_code),
        load_tokenizer(resolved, trust_remote_code=config.trust_remote_code)))


def run_model(run_dir: Path) -> Loaded:
    def load():
        loaded = api("train", "load_run")(run_dir)
        return Loaded(loaded.model, loaded.tokenizer, loaded.labels, loaded.folder.inference_contract())

    return _remember(("run", str(run_dir)), load)


def classify(model_tokenizer_labels: Loaded, text: str, max_length: int) -> str:
    """A classifier run's label for `text`, with its probability and the runner-up."""
    import torch

    model, tokenizer, labels = model_tokenizer_labels
    encoded = tokenizer([text], return_tensors="pt", truncation=True, max_length=max_length)
    with torch.inference_mode():
        probs = torch.softmax(model(**encoded).logits.float()[0], dim=-1).tolist()
    ranked = sorted(zip(labels or [str(i) for i in range(len(probs))], probs, strict=False), key=lambda x: -x[1])
    best, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
    return f"**{best[0]}** ({best[1]:.0%})" + (f", then {runner_up[0]} ({runner_up[1]:.0%})" if runner_up else "")


def reply(loaded: Loaded, history: list[dict], max_new_tokens: int) -> str:
    """The model's answer to the conversation; a run's under its contract (`max_new_tokens` is the base's)."""
    from tunesmith.inference import generate_chat

    messages = [{"role": m["role"], "content": _text(m["content"])} for m in history]
    contract, settings = loaded.contract, {"max_new_tokens": max_new_tokens}
    if contract is not None:
        messages = contract.conversation(messages)
        settings = {"max_new_tokens": contract.max_new_tokens or max_new_tokens,
                    "temperature": contract.temperature, "stop": contract.stop, "seed": 0}
    answer = generate_chat(loaded.model, loaded.tokenizer, [messages], **settings)[0].text.strip()
    return answer or "(the model answered with an empty message)"


def _text(content) -> str:
    # Gradio 6 may hand back message content as a list of typed parts.
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
