"""Canonical records back to source formats (the inverse of formats.convert), e.g. to hand data to
other tools or to write test fixtures."""

from __future__ import annotations

from tunesmith.errors import DataError

_PAIR_KEYS = {"prompt_completion": ("prompt", "completion"), "question_answer": ("question", "answer"),
              "input_output": ("input", "output"), "alpaca": ("instruction", "output")}
_SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def to_format(record: dict, fmt: str) -> dict:
    """One canonical record as a row of `fmt`; meta goes to `metadata` (OpenAI) or top-level keys."""
    meta = dict(record.get("meta", {}))
    if fmt == "openai":
        row = {"messages": [dict(m) for m in record["messages"]]}
        return {**row, "metadata": meta} if meta else row
    if fmt == "sharegpt":
        messages = record["messages"]
        system = [m["content"] for m in messages if m["role"] == "system"]
        turns = [{"from": _SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in messages if m["role"] != "system"]
        return {**meta, "conversations": turns, **({"system": system[0]} if system else {})}
    if fmt in _PAIR_KEYS:
        return {**meta, **_pair_row(record, fmt)}
    if fmt == "text_label":
        row = {"text": record["text"], "label": record["label"]}
        if record.get("text_pair"):
            row["text_pair"] = record["text_pair"]
        return {**meta, **row}
    if fmt == "text":
        return {**meta, "text": record["text"]}
    if fmt == "query_positive":
        row = {"query": record["query"], "positive": record["positive"]}
        return {**meta, **row, **({"negative": record["negative"]} if record.get("negative") else {})}
    if fmt == "sentence_pair_score":
        return {**meta, "sentence1": record["query"], "sentence2": record["positive"], "score": record["score"]}
    raise DataError(f"unknown format '{fmt}'", "Use openai, sharegpt, alpaca, prompt_completion, "
                    "question_answer, input_output, text_label, text, query_positive or sentence_pair_score.")


def _pair_row(record: dict, fmt: str) -> dict:
    question_key, answer_key = _PAIR_KEYS[fmt]
    if "label" in record:
        return {question_key: record["text"], answer_key: record["label"]}
    messages = record["messages"]
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) != 2 or turns[0]["role"] != "user" or turns[1]["role"] != "assistant" or \
            (system and fmt != "alpaca"):
        raise DataError(f"record {record.get('id')} is not a single question and answer",
                        "Use the openai or sharegpt format for multi-turn conversations.")
    row = {question_key: turns[0]["content"], answer_key: turns[1]["content"]}
    if fmt == "alpaca":
        row["input"] = ""
        if system:
            row["system"] = system[0]
    return row
