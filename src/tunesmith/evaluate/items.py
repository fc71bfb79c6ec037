"""Held-out items from canonical records (pure): what is asked, and what a good answer is."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from tunesmith.errors import DataError
from tunesmith.tools import calls_of, format_calls

Messages = list[dict]
TOOL_KEYS = ("tool_calls", "tool_call_id", "name")


@dataclass(frozen=True)
class ChatItem:
    id: str
    prompt: Messages  # every message before the last assistant turn
    reference: str  # the last assistant turn (its calls as `tunesmith.tools.format_calls` writes them)
    facts: list[str] = field(default_factory=list)
    rejected: str | None = None  # preference records: the answer the reference was preferred to
    tools: list[dict] = field(default_factory=list)  # OpenAI tools offered to the prompt
    calls: list[dict] = field(default_factory=list)  # the reference turn's tool_calls (OpenAI dicts)

    def answer_message(self) -> dict:
        """The reference as an assistant message (with its tool_calls), e.g. for a few-shot example."""
        if not self.calls:
            return {"role": "assistant", "content": self.reference}
        blocks = format_calls(calls_of({"tool_calls": self.calls}))
        return {"role": "assistant", "content": self.reference[: -len(blocks)].rstrip("\n"), "tool_calls": self.calls}


@dataclass(frozen=True)
class ClassItem:
    id: str
    text: str
    label: str
    text_pair: str | None = None


def _is_augmented(record: dict) -> bool:
    return bool((record.get("meta") or {}).get("augmented"))


def _clean_messages(messages: Sequence[dict]) -> Messages:
    """Role and content (and the tool fields where present); training-only keys such as weight dropped."""
    return [{"role": str(m["role"]), "content": str(m.get("content") or ""),
             **{k: m[k] for k in TOOL_KEYS if m.get(k) is not None}} for m in messages]


def chat_item(record: dict, index: int = 0) -> ChatItem | None:
    """Split a chat record at its last assistant turn; None when it has no answer to compare against."""
    messages = record.get("messages") or []
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None or last == 0:
        return None
    # Sources may still say "metadata"; prepared records say "meta".
    facts = (record.get("meta") or record.get("metadata") or {}).get("facts") or []
    rejected = record.get("rejected")
    calls = list(messages[last].get("tool_calls") or [])
    content = str(messages[last].get("content") or "")
    reference = format_calls(calls_of(messages[last]), content) if calls else content
    return ChatItem(id=str(record.get("id", index)), prompt=_clean_messages(messages[:last]), reference=reference,
                    facts=[str(f) for f in facts], rejected=None if rejected is None else str(rejected),
                    tools=list(record.get("tools") or []), calls=calls)


def chat_items(records: Sequence[dict], limit: int | None = None) -> list[ChatItem]:
    """Held-out chat items: synthetic (augmented) records never count."""
    items = [item for i, r in enumerate(records) if not _is_augmented(r) and (item := chat_item(r, i))]
    return items[:limit] if limit else items


def class_items(records: Sequence[dict], limit: int | None = None) -> list[ClassItem]:
    items = [ClassItem(id=str(r.get("id", i)), text=str(r["text"]), label=str(r["label"]),
                       text_pair=r.get("text_pair")) for i, r in enumerate(records)
             if not _is_augmented(r) and "text" in r and "label" in r]
    return items[:limit] if limit else items


def require_items(items: list, split: str) -> list:
    if not items:
        raise DataError(f"the '{split}' split has no usable held-out records",
                        "Set data.test_share or data.validation_share above 0 and prepare the data again.")
    return items


def pick_examples(records: Sequence[dict], k: int, seed: int = 0) -> list[ChatItem]:
    """k real (not augmented) training examples for few-shot prompts, chosen reproducibly, shortest first
    among a random sample so the prompt stays small."""
    pool = chat_items(records)
    if k <= 0 or not pool:
        return []
    rng = random.Random(seed)
    sample = rng.sample(pool, min(len(pool), k * 4))
    sample.sort(key=lambda item: len(item.reference) + sum(len(m["content"]) for m in item.prompt))
    return _spread_over_tools(sample)[:k]


def _spread_over_tools(items: list[ChatItem]) -> list[ChatItem]:
    """With tools, show each way of answering (each tool called, and answering in words) before repeating one:
    the shortest examples are nearly always the plain answers, which would teach a few-shot model never to call."""
    if not any(item.tools for item in items):
        return items
    kinds: dict[str, list[ChatItem]] = {}
    for item in items:
        kinds.setdefault(",".join(c["function"]["name"] for c in item.calls), []).append(item)
    rounds = [[group[i] for group in kinds.values() if i < len(group)] for i in range(len(items))]
    return [item for batch in rounds for item in batch]


def few_shot_system_prompt(description: str = "", users: str = "", expected_output: str = "") -> str:
    """The prompt-engineering baseline's instructions, written from the project's objective."""
    parts = ["You are a helpful assistant."]
    if description.strip():
        parts.append(f"Your task: {description.strip()}")
    if users.strip():
        parts.append(f"You are talking to: {users.strip()}")
    if expected_output.strip():
        parts.append(f"A good answer: {expected_output.strip()}")
    parts.append("Answer in the same style and format as the example conversations.")
    return "\n".join(parts)


def few_shot_prompt(item: ChatItem, system: str, examples: Sequence[ChatItem]) -> Messages:
    """System instructions, then each example as a prior user/assistant exchange, then the question."""
    own_system = [m["content"] for m in item.prompt if m["role"] == "system"]
    messages: Messages = [{"role": "system", "content": "\n".join([system, *own_system])}]
    for example in examples:
        turns = [m for m in example.prompt if m["role"] != "system"]
        users = [i for i, m in enumerate(turns) if m["role"] == "user"]
        # the last question and what followed it (tool calls and their results), so the example shows it all
        messages += [*turns[users[-1] if users else len(turns) - 1:], example.answer_message()]
    messages += [m for m in item.prompt if m["role"] != "system"]
    return messages
