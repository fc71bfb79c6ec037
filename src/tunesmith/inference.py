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
SHARED_PREFIX_MIN = 32  # prompt tokens a batch must share before their KV is computed once for all rows


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


def _shared_length(rows: Sequence[list[int]]) -> int:
    """Tokens every row starts with, leaving at least one token of each row to compute."""
    shared = min(len(r) for r in rows) - 1
    for row in rows[1:]:
        shared = next((i for i, (a, b) in enumerate(zip(row[:shared], rows[0], strict=False)) if a != b), shared)
    return max(shared, 0)


def _encode(model, tokenizer, chunk: list[str]) -> dict:
    """The chunk's generate() inputs. Prompts that share a long start (the system prompt, its tool schemas, the
    few-shot examples) get that prefix's KV computed once and copied to each row: `[prefix | padding | own
    suffix]`, the padding masked and positions taken from the mask, so each row sees what its own prompt gives."""
    from transformers import DynamicCache

    rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in chunk]
    # prompt tuning puts its virtual tokens before the prompt: they own the start of the cache
    learned_prompt = getattr(getattr(model, "active_peft_config", None), "is_prompt_learning", False)
    shared = _shared_length(rows) if len(rows) > 1 and not learned_prompt else 0
    cache = DynamicCache(config=model.config) if shared >= SHARED_PREFIX_MIN else None
    if cache is None or not all(type(layer).__name__ == "DynamicLayer" for layer in getattr(cache, "layers", [])):
        return dict(tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False))
    model(input_ids=torch.tensor([rows[0][:shared]]), cache=cache, use_cache=True, logits_to_keep=1)
    for layer in cache.layers:  # one row per prompt, all starting from the prefix's keys and values
        layer.keys, layer.values = (t.expand(len(rows), -1, -1, -1).contiguous() for t in (layer.keys, layer.values))
    width = max(len(r) for r in rows) - shared
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = [r[:shared] + [pad] * (width - len(r) + shared) + r[shared:] for r in rows]
    mask = [[1] * shared + [0] * (width - len(r) + shared) + [1] * (len(r) - shared) for r in rows]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "cache": cache}


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
            enc = _encode(model, tokenizer, chunk)
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
