"""Training on tool use: the loss covers the assistant's calls and answers, never the tool results, and what the
model reads before each scored turn is exactly the prompt inference renders (tools offered), on the fallback
format and on a tools-aware chat template alike."""

from __future__ import annotations

import copy

import pytest

from tunesmith.inference import render_prompt
from tunesmith.tools import ToolCall, format_calls, parse, tools_of
from tunesmith.train.encode import IGNORE, encode_chat

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id": "LK-1"}'}}
RECORD = {"tools": TOOLS, "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is LK-1?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "name": "lookup_order", "content": "RESULT-shipped-tuesday"},
    {"role": "assistant", "content": "It ships on Tuesday."}]}


def _scored_runs(tokenizer, example) -> list[str]:
    """The scored stretches of an example, decoded."""
    runs, current = [], []
    for token, label in zip(example.input_ids, example.labels, strict=True):
        if label != IGNORE:
            current.append(token)
        elif current:
            runs, current = [*runs, tokenizer.decode(current)], []
    return runs + ([tokenizer.decode(current)] if current else [])


@pytest.mark.parametrize("template", ["fallback", "native"])
def test_each_scored_turn_follows_exactly_the_inference_prompt(template, tokenizer, hermes):
    tok = tokenizer if template == "fallback" else hermes
    example = encode_chat(tok, RECORD, max_length=2048)
    text = tok.decode(example.input_ids)
    tools = tools_of(TOOLS)
    for i in (2, 4):  # every assistant turn: the text before it is what inference renders for messages[:i]
        prompt = render_prompt(tok, RECORD["messages"][:i], tools)
        assert text.startswith(prompt)
    assert text.startswith(render_prompt(tok, RECORD["messages"][:4], tools))
    call_turn, answer = _scored_runs(tok, example)
    eot = tok.eos_token
    assert answer == "It ships on Tuesday." + eot
    assert call_turn.endswith(eot) and parse(call_turn[: -len(eot)]).calls[0].arguments == '{"order_id": "LK-1"}'
    if template == "fallback":
        assert call_turn == format_calls([ToolCall("call_1", "lookup_order", '{"order_id": "LK-1"}')]) + eot
    assert "RESULT" not in "".join(_scored_runs(tok, example)), "tool results are read, never trained on"
    assert "RESULT-shipped-tuesday" in text


def test_a_call_turn_with_weight_zero_is_not_trained(tokenizer):
    record = copy.deepcopy(RECORD)
    record["messages"][2]["weight"] = 0
    runs = _scored_runs(tokenizer, encode_chat(tokenizer, record, max_length=2048))
    assert runs == ["It ships on Tuesday." + tokenizer.eos_token]


def test_token_statistics_and_mask_previews_see_what_training_sees(tokenizer):
    from tunesmith.data.tokens import token_lengths, token_mask

    example = encode_chat(tokenizer, RECORD, max_length=4096)
    assert token_lengths([RECORD], tokenizer, "chat") == [len(example.input_ids)]
    ids, mask = token_mask(RECORD, tokenizer)  # `data preview --masks` and the studio's data page
    assert ids == example.input_ids and "# Tools" in tokenizer.decode(ids)
    assert mask == [label != IGNORE for label in example.labels]
