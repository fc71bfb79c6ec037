"""Canonical records back to source formats (the inverse of formats.convert), e.g. to hand data to
other tools or to write test fixtures."""

from __future__ import annotations

import json

from tunesmith.errors import DataError

_PAIR_KEYS = {"prompt_completion": ("prompt", "completion"), "question_answer": ("question", "answer"),
              "input_output": ("input", "output"), "alpaca": ("instruction", "output")}
_SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def to_format(record: dict, fmt: str) -> dict:
    """One canonical record as a row of `fmt`; meta goes to `metadata` (OpenAI) or top-level keys."""
    meta = dict(record.get("meta", {}))
    tools = {"tools": record["tools"]} if record.get("tools") else {}
    if fmt == "openai":
        row = {"messages": [dict(m) for m in record["messages"]], **tools}
        return {**row, "metadata": meta} if meta else row
    if fmt == "sharegpt":
        messages = record["messages"]
        system = [m["content"] for m in messages if m["role"] == "system"]
        turns = [_sharegpt_turn(m) for m in messages if m["role"] != "system"]
        return {**meta, "conversations": turns, **({"system": system[0]} if system else {}), **tools}
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


def _sharegpt_turn(message: dict) -> dict:
    """A message as a ShareGPT turn; calls become a `function_call` turn (LLaMA-Factory's layout), which has no
    room for text beside the calls."""
    if not message.get("tool_calls"):
        return {"from": _SHAREGPT_FROM[message["role"]], "value": message["content"]}
    if message["content"]:
        raise DataError("a turn with both text and tool calls has no ShareGPT form", "Export to the openai format.")
    calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
             for c in message["tool_calls"]]
    return {"from": "function_call", "value": json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)}


def _pair_row(record: dict, fmt: str) -> dict:
    question_key, answer_key = _PAIR_KEYS[fmt]
    if "label" in record:
        return {question_key: record["text"], answer_key: record["label"]}
    messages = record["messages"]
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    if record.get("tools") or any(m.get("tool_calls") for m in turns):
        raise DataError(f"record {record.get('id')} uses tools", "Use the openai or sharegpt format for tool use.")
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
