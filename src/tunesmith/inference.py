"""Generation for evaluation, export parity, the studio playground and paraphrasing: the serving engine's path.

Prompts are rendered with the tokenizer's chat template (through `tunesmith.tools.render`, so tools offered
to a conversation appear exactly as training and serving show them) and decoded by the same batch loop as
`tunesmith serve` (`tunesmith.serve.local`): what is evaluated is what is served. Greedy by default, so
results are reproducible; sampling takes an explicit seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


def generate_texts(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 96,
                   temperature: float = 0.0, top_p: float = 1.0, stop: Sequence[str] = (),
                   seed: int | None = None, batch_size: int = 8,
                   on_done: Callable[[], None] = lambda: None) -> list[Completion]:
    """Complete raw prompt strings through the serving engine's batch loop, `batch_size` rows at a time (prompt
    i samples with `seed + i`, so an answer does not depend on which prompts share its batch)."""
    from tunesmith.serve.local import loaded_for, run_prompts
    from tunesmith.serve.sampling import SamplingParams

    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    params = [SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=tuple(stop),
                             seed=None if seed is None else seed + i) for i in range(len(prompts))]
    answers = run_prompts(loaded_for(model, tokenizer), ids, params, max_batch=batch_size, on_done=on_done)
    return [Completion(a.text.strip(), a.finished.prompt_tokens, a.finished.completion_tokens, a.finished.reason)
            for a in answers]


def generate_chat(model, tokenizer, conversations: Sequence[Messages],
                  tools: Sequence[Sequence[Tool]] | None = None, **kwargs) -> list[Completion]:
    """Answer each conversation (a list of messages ending with a user or tool turn), with `tools[i]` offered
    to conversation i; the answers are raw text (`tunesmith.tools.parse` reads calls out of them)."""
    offered = tools or [()] * len(conversations)
    prompts = [render_prompt(tokenizer, c, t) for c, t in zip(conversations, offered, strict=True)]
    return generate_texts(model, tokenizer, prompts, **kwargs)
