"""Turn canonical records into token ids and loss labels (pure functions of records + tokenizer).

Chat: each trainable assistant turn is scored on exactly its text plus the end-of-turn token, and
the prompt before it is `tunesmith.inference.render_prompt` of the messages so far (with the record's
tools offered), so what the model learns is what generation later sees. A turn that calls tools is scored
on its calls as `tunesmith.tools.turn_text` writes them; tool results are part of the prompt, never
scored. Labels are -100 where no loss is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tunesmith.errors import DataError
from tunesmith.inference import render_prompt
from tunesmith.tools import Tool, tools_of, turn_text

IGNORE = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int] = field(default_factory=list)  # per token for causal LMs, one class id for classifiers
    targets: int = 0  # tokens (or examples, for classifiers) that carry loss
    segments: list[int] | None = None  # token_type_ids, for encoders reading a text pair

    def __len__(self) -> int:
        return len(self.input_ids)


def end_of_turn_id(tokenizer) -> int:
    """The token generation stops at (`generate_texts` stops at eos)."""
    return tokenizer.eos_token_id


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def chat_pieces(tokenizer, messages: list[dict], train_on_prompt: bool = False,
                tools: Sequence[Tool] = ()) -> list[tuple[str, bool]]:
    """Split a conversation (with `tools` offered) into (text, trainable) pieces whose concatenation the model
    reads."""
    eot = tokenizer.decode([end_of_turn_id(tokenizer)])
    pieces: list[tuple[str, bool]] = []
    read = ""
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prompt = render_prompt(tokenizer, messages[:i], tools)
        if not prompt.startswith(read):
            # The template rewrites earlier turns (some strip reasoning), so earlier answers cannot be
            # scored consistently: keep only this turn, read from its own prompt.
            pieces, read = [], ""
        pieces.append((prompt[len(read):], train_on_prompt))
        answer = turn_text(tokenizer, messages[: i + 1], tools, eot) + eot
        pieces.append((answer, float(message.get("weight", 1)) > 0))
        read = prompt + answer
    return pieces


def record_pieces(tokenizer, record: dict, train_on_prompt: bool = False) -> list[tuple[str, bool]]:
    """`chat_pieces` of a canonical chat record, with the tools it offers."""
    return chat_pieces(tokenizer, record["messages"], train_on_prompt, tools_of(record.get("tools")))


def encode_chat(tokenizer, record: dict, max_length: int, train_on_prompt: bool = False) -> Example | None:
    if not record.get("messages"):
        raise DataError(f"record {record.get('id', '?')} has no messages", "Re-run `tunesmith prepare`.")
    input_ids: list[int] = []
    labels: list[int] = []
    for text, trainable in record_pieces(tokenizer, record, train_on_prompt):
        ids = _ids(tokenizer, text)
        input_ids += ids
        labels += ids if trainable else [IGNORE] * len(ids)
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    targets = sum(1 for t in labels[1:] if t != IGNORE)
    return Example(input_ids, labels, targets) if targets else None


def encode_text(tokenizer, record: dict, max_length: int) -> list[Example]:
    """Raw text for continued pretraining, cut into windows of at most max_length tokens."""
    ids = _ids(tokenizer, record.get("text", ""))
    if tokenizer.bos_token_id is not None and tokenizer.bos_token_id != tokenizer.eos_token_id:
        ids = [tokenizer.bos_token_id, *ids]
    ids.append(tokenizer.eos_token_id)
    windows = [ids[i:i + max_length] for i in range(0, len(ids), max_length)]
    return [Example(w, list(w), len(w) - 1) for w in windows if len(w) > 1]


def encode_classification(tokenizer, record: dict, label_ids: dict[str, int], max_length: int) -> Example:
    label = str(record.get("label"))
    if label not in label_ids:
        raise DataError(f"record {record.get('id', '?')} has label '{label}' not seen in training data",
                        "Make sure every label appears in the train split.")
    pair = record.get("text_pair")
    enc = tokenizer(record.get("text", ""), pair, truncation=True, max_length=max_length)
    segments = enc.get("token_type_ids") if pair else None
    return Example(enc["input_ids"], [label_ids[label]], 1, segments)


def label_list(records: list[dict]) -> list[str]:
    return sorted({str(r.get("label")) for r in records})


def encode_records(tokenizer, records: list[dict], task: str, max_length: int, labels: list[str] | None = None,
                   train_on_prompt: bool = False) -> list[Example]:
    """Encode every record for `task`; chat records with no trainable token left are dropped."""
    if task == "classification":
        label_ids = {label: i for i, label in enumerate(labels or label_list(records))}
        return [encode_classification(tokenizer, r, label_ids, max_length) for r in records]
    if task == "text":
        return [ex for r in records for ex in encode_text(tokenizer, r, max_length)]
    encoded = (encode_chat(tokenizer, r, max_length, train_on_prompt) for r in records)
    return [ex for ex in encoded if ex is not None]
