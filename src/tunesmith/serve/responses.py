"""OpenAI response bodies for completions and chat completions (whole answers; streams are in streaming.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.serve.batch import Finished
from tunesmith.serve.logprobs import TokenText, chat_logprobs, completion_logprobs
from tunesmith.tools import parse


@dataclass
class Answer:
    text: str
    done: Finished


def usage(prompt_tokens: int, answers: Sequence[Finished]) -> dict:
    """Each prompt counts once however many choices it had; every sampled choice's tokens count."""
    completion = sum(done.completion_tokens for done in answers)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def chat_choice(index: int, answer: Answer, names: TokenText, tool_calls: bool) -> dict:
    """One chat choice; with tools in play its text is split into content and `tool_calls` (tunesmith.tools)."""
    message: dict = {"role": "assistant", "content": answer.text, "refusal": None}
    reason = answer.done.reason
    if tool_calls:
        parsed = parse(answer.text)
        message["content"] = parsed.content
        if parsed.calls:
            message["tool_calls"] = [call.openai() for call in parsed.calls]
            reason = "tool_calls" if reason == "stop" else reason
    return {"index": index, "message": message, "finish_reason": reason,
            "logprobs": chat_logprobs(answer.done.logprobs, names)}


def completion_choice(index: int, answer: Answer, names: TokenText, echo: str = "") -> dict:
    return {"index": index, "text": echo + answer.text, "finish_reason": answer.done.reason,
            "logprobs": completion_logprobs(answer.done.logprobs, names)}


def envelope(rid: str, created: int, model: str, chat: bool, service_tier: str | None) -> dict:
    """What every body and chunk of one response shares."""
    head = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
            "model": model, "system_fingerprint": None}
    if service_tier is not None:
        head["service_tier"] = "default"
    return head


def mean_logprob(answer: Answer) -> float:
    """best_of's ranking: the mean log-probability of a choice's tokens."""
    entries = answer.done.logprobs or []
    return sum(e.logprob for e in entries) / len(entries) if entries else float("-inf")
