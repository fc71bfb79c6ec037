"""Decoding helpers: adjusting the logits, choosing the next token, releasing text safely around stop strings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Below this temperature sampling is the most likely token (but for near-ties), and dividing logits by it
# overflows float32 to inf, whose softmax is NaN: such temperatures decode greedily.
GREEDY_BELOW = 1e-4


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None  # None: off; k: each sampled token's logprob and its k most likely alternatives
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, added to its logit)
    presence_penalty: float = 0.0  # subtracted once from each token already in the answer
    frequency_penalty: float = 0.0  # subtracted per occurrence in the answer
    grammar: str | None = None  # serve.constrain grammar the answer must follow (response_format, tool calls)

    def __post_init__(self) -> None:
        if self.temperature < GREEDY_BELOW:
            object.__setattr__(self, "temperature", 0.0)


@dataclass(frozen=True)
class TokenLogprob:
    token_id: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()  # (token id, logprob) of the k most likely tokens, best first


def token_logprob(logits: torch.Tensor, token: int, k: int) -> TokenLogprob:
    """The model's log-probability of `token` and of its `k` most likely alternatives at this step: log-softmax
    of the raw logits, before temperature and top-p (what the model believes, not how it was sampled)."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    top = torch.topk(logprobs, k) if k else None
    pairs = tuple(zip(top.indices.tolist(), top.values.tolist(), strict=True)) if top is not None else ()
    return TokenLogprob(int(token), float(logprobs[token]), pairs)


def adjusted_logits(logits: torch.Tensor, params: SamplingParams, generated: Sequence[int],
                    constraint=None) -> torch.Tensor:
    """The logits sampling draws from: `logit_bias`, then OpenAI's presence and frequency penalties over the
    answer so far, then the request's constraint (serve.constrain.Constraint), which masks what its grammar
    forbids. Logprobs are reported from the raw logits, before all of this."""
    if not (params.logit_bias or params.presence_penalty or params.frequency_penalty or constraint is not None):
        return logits
    logits = logits.float().clone()
    for token, bias in params.logit_bias:
        if token < logits.shape[-1]:
            logits[token] += bias
    if (params.presence_penalty or params.frequency_penalty) and generated:
        tokens, counts = torch.tensor(list(generated)).unique(return_counts=True)
        logits[tokens] -= params.presence_penalty + params.frequency_penalty * counts.float()
    return constraint.mask(logits) if constraint is not None else logits


def make_generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def next_token(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> int:
    """Greedy when temperature is 0, otherwise nucleus sampling with the row's own RNG."""
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
        outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))


def releasable(text: str, stop: Sequence[str], final: bool) -> tuple[str, bool]:
    """The part of `text` safe to send now, and whether a stop string ended it.

    Text is held back while its tail could still grow into a stop string, and while it ends in an
    incomplete UTF-8 character (the tokenizer's replacement mark), so a stream never shows a stop
    string or half a character.
    """
    cuts = [text.index(s) for s in stop if s and s in text]
    if cuts:
        return text[: min(cuts)], True
    if final:
        return text, False
    end = len(text)
    while end > 0 and text[end - 1] == "\ufffd":
        end -= 1
    head = text[:end]
    hold = max((size for s in stop for size in range(1, min(len(s) - 1, end) + 1) if head.endswith(s[:size])),
               default=0)
    return head[: end - hold], False
