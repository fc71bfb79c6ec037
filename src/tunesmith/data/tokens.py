"""Token lengths and trained-token masks, computed exactly as training encodes records.

Chat records are split into pieces by `tunesmith.train.encode.record_pieces` (the training code's own
template handling), so the lengths, the over-length count and the trained share reported here are the
ones training will see.
"""

from __future__ import annotations

from collections.abc import Sequence

_BATCH = 1024


def _pieces(record: dict, tokenizer) -> list[tuple[str, bool]]:
    from tunesmith.train.encode import record_pieces

    return record_pieces(tokenizer, record)


def _piece_lengths(texts: list[str], tokenizer) -> list[int]:
    lengths: list[int] = []
    for start in range(0, len(texts), _BATCH):
        chunk = texts[start:start + _BATCH]
        lengths.extend(len(ids) for ids in tokenizer(chunk, add_special_tokens=False)["input_ids"])
    return lengths


def token_lengths(records: Sequence[dict], tokenizer, task: str) -> list[int]:
    """Tokens per record as training encodes it (before truncation to max_length)."""
    if task == "chat":
        pieces = [_pieces(r, tokenizer) for r in records]
        flat = _piece_lengths([text for record in pieces for text, _ in record if text], tokenizer)
        lengths, position = [], 0
        for record in pieces:
            count = sum(1 for text, _ in record if text)
            lengths.append(sum(flat[position:position + count]))
            position += count
        return lengths
    if task == "embedding":  # each text is encoded alone: the longest of a pair is what max_length cuts
        columns = [_piece_lengths([r.get(k) or "" for r in records], tokenizer) for k in ("query", "positive",
                                                                                          "negative")]
        return [max(row) + 2 for row in zip(*columns, strict=True)]  # [CLS] ... [SEP]
    if task == "text":
        extra = 1 + int(tokenizer.bos_token_id is not None and tokenizer.bos_token_id != tokenizer.eos_token_id)
        return [n + extra for n in _piece_lengths([r["text"] for r in records], tokenizer)]
    lengths = []
    for start in range(0, len(records), _BATCH):
        chunk = records[start:start + _BATCH]
        pairs = [r.get("text_pair") for r in chunk]
        texts = [r["text"] for r in chunk]
        encoded = tokenizer(texts, pairs)["input_ids"] if any(pairs) else tokenizer(texts)["input_ids"]
        lengths.extend(len(ids) for ids in encoded)
    return lengths


def token_mask(record: dict, tokenizer) -> tuple[list[int], list[bool]]:
    """Token ids of a chat record and whether each one carries loss (completion-only training)."""
    ids: list[int] = []
    mask: list[bool] = []
    for text, trainable in _pieces(record, tokenizer):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        ids += piece
        mask += [trainable] * len(piece)
    return ids, mask


def trained_share(records: Sequence[dict], tokenizer, limit: int = 300) -> float | None:
    """Share of tokens that carry loss under completion-only training, on up to `limit` records."""
    trained = total = 0
    for record in records[:limit]:
        _, mask = token_mask(record, tokenizer)
        trained += sum(mask)
        total += len(mask)
    return trained / total if total else None
