"""Token lengths and trained-token masks with the model's own tokenizer and chat template."""

from __future__ import annotations

from collections.abc import Sequence

_BATCH = 512


def render(record: dict, tokenizer) -> str:
    """The exact training text of a record (chat template for conversations)."""
    if "messages" in record:
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        return tokenizer.apply_chat_template(messages, tokenize=False)
    return record["text"]


def token_lengths(records: Sequence[dict], tokenizer, task: str) -> list[int]:
    lengths: list[int] = []
    for start in range(0, len(records), _BATCH):
        chunk = records[start:start + _BATCH]
        if task == "classification":
            firsts = [r["text"] for r in chunk]
            pairs = [r.get("text_pair") for r in chunk]
            encoded = [tokenizer(f, p)["input_ids"] if p else None for f, p in zip(firsts, pairs, strict=True)]
            plain = tokenizer([f for f, e in zip(firsts, encoded, strict=True) if e is None])["input_ids"]
            plain_iter = iter(plain)
            lengths.extend(len(e) if e is not None else len(next(plain_iter)) for e in encoded)
        else:
            texts = [render(r, tokenizer) for r in chunk]
            lengths.extend(len(ids) for ids in tokenizer(texts, add_special_tokens=task == "text")["input_ids"])
    return lengths


def trained_spans(messages: list[dict], tokenizer) -> tuple[str, list[tuple[int, int]]]:
    """(rendered text, character spans the model is trained on): every assistant turn whose weight is
    not 0, including the template's end-of-turn marker. Found by rendering each turn's prefix."""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    full = tokenizer.apply_chat_template(plain, tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        before = tokenizer.apply_chat_template(plain[:index], tokenize=False, add_generation_prompt=True) \
            if index else ""
        through = tokenizer.apply_chat_template(plain[:index + 1], tokenize=False)
        if full.startswith(through) and through.startswith(before):
            spans.append((len(before), len(through)))
    return full, spans


def token_mask(record: dict, tokenizer) -> tuple[list[int], list[bool]]:
    """Token ids of a chat record and whether each token is trained (completion-only loss)."""
    text, spans = trained_spans(record["messages"], tokenizer)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [any(start < end_ and end > start_ for start_, end_ in spans) if end > start else False
            for start, end in encoded["offset_mapping"]]
    return encoded["input_ids"], mask


def trained_share(records: Sequence[dict], tokenizer, limit: int = 300) -> float | None:
    """Share of tokens that carry loss under completion-only training, on up to `limit` records."""
    trained = total = 0
    for record in records[:limit]:
        if "messages" not in record:
            return None
        _, mask = token_mask(record, tokenizer)
        trained += sum(mask)
        total += len(mask)
    return trained / total if total else None
