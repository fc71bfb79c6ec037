"""Batched generation shared by evaluation, export parity and serving.

Prompts are rendered with the tokenizer's chat template (through `tunesmith.tools.render`, so tools offered
to a conversation appear exactly as training and serving show them), left-padded and decoded together with the
KV cache. Greedy by default, so results are reproducible; sampling takes an explicit seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tunesmith.tools import Tool, render

Messages = list[dict[str, Any]]


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


def render_prompt(tokenizer, messages: Messages, tools: Sequence[Tool] = ()) -> str:
    """The exact text the model sees before it answers (template + generation prompt), `tools` offered."""
    return render(tokenizer, messages, tools)


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


@torch.inference_mode()
def generate_texts(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 96,
                   temperature: float = 0.0, top_p: float = 1.0, stop: Sequence[str] = (),
                   seed: int | None = None, batch_size: int = 8) -> list[Completion]:
    """Complete raw prompt strings, `batch_size` at a time."""
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    results: list[Completion] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start: start + batch_size])
            enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
            kwargs = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id,
                      "eos_token_id": tokenizer.eos_token_id}
            if temperature > 0:
                if seed is not None:
                    torch.manual_seed(seed + start)
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
            else:
                kwargs.update(do_sample=False)
            out = model.generate(**enc, **kwargs)
            new_tokens = out[:, enc["input_ids"].shape[1]:]
            for row, prompt_mask in zip(new_tokens, enc["attention_mask"], strict=True):
                ids = row.tolist()
                ended = tokenizer.eos_token_id in ids
                if ended:
                    ids = ids[: ids.index(tokenizer.eos_token_id)]
                text = tokenizer.decode(ids, skip_special_tokens=True)
                text, stopped = _cut_at_stop(text, stop)
                results.append(Completion(text.strip(), int(prompt_mask.sum()), len(ids),
                                          "stop" if ended or stopped else "length"))
    finally:
        tokenizer.padding_side = previous_side
    return results


def generate_chat(model, tokenizer, conversations: Sequence[Messages],
                  tools: Sequence[Sequence[Tool]] | None = None, **kwargs) -> list[Completion]:
    """Answer each conversation (a list of messages ending with a user or tool turn), with `tools[i]` offered
    to conversation i; the answers are raw text (`tunesmith.tools.parse` reads calls out of them)."""
    offered = tools or [()] * len(conversations)
    prompts = [render_prompt(tokenizer, c, t) for c, t in zip(conversations, offered, strict=True)]
    return generate_texts(model, tokenizer, prompts, **kwargs)
