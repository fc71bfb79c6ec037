"""tools.parse / CallStream: calls out of generated text, whole and streamed, the same either way."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from tunesmith.tools import CallStart, CallStream, CallText, ToolCall, collect, format_calls, parse

CALLS = [ToolCall("call_a", "get_weather", json.dumps({"city": "Paris", "note": "a } and \" in {text}"})),
         ToolCall("call_b", "lookup_order", json.dumps({"order_id": 1234, "items": [{"sku": "x"}]}))]


def _ids():
    counter = itertools.count()
    return lambda: f"call_{next(counter)}"


def test_formatted_calls_parse_back_with_their_content():
    parsed = parse(format_calls(CALLS, "Let me check."), _ids())
    assert parsed.content == "Let me check."
    assert [(c.name, json.loads(c.arguments)) for c in parsed.calls] == [
        (c.name, json.loads(c.arguments)) for c in CALLS]
    assert [c.id for c in parsed.calls] == ["call_0", "call_1"]


@pytest.mark.parametrize("seed", range(5))
def test_any_chunking_streams_the_same_calls_and_content(seed):
    text = "  Sure <b>bold</b>, checking.\n" + format_calls(CALLS) + "\n"
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), 12))
    stream, events = CallStream(_ids()), []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        events += stream.feed(text[start:end])
    events += stream.close()
    assert collect(events) == parse(text, _ids())
    assert collect(events).content == "Sure <b>bold</b>, checking."


def test_a_call_is_announced_before_its_block_closes_and_arguments_arrive_in_pieces():
    block = format_calls(CALLS[:1])
    stream = CallStream(_ids())
    early = stream.feed(block[: block.index('"note"')])
    assert isinstance(early[0], CallStart) and early[0].name == "get_weather"
    rest = stream.feed(block[block.index('"note"'):]) + stream.close()
    pieces = [e.arguments for e in early + rest if isinstance(e, CallText)]
    assert len(pieces) >= 2 and "".join(pieces) == CALLS[0].arguments


def test_blocks_in_another_layout_are_parsed_when_they_close():
    text = '<tool_call>{"arguments": {"city": "Oslo"}, "name": "get_weather"}</tool_call>'
    (call,) = parse(text).calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    assert call.id.startswith("call_")


@pytest.mark.parametrize("text", ["<tool_call>not json</tool_call>", "a <tool_call>{\"x\": 1}</tool_call> b",
                                  "x < y and <tool_ca"])
def test_what_is_not_a_call_stays_text(text):
    parsed = parse(text)
    assert parsed.calls == [] and parsed.content == text.strip()


def test_a_cut_call_keeps_what_was_written():
    parsed = parse('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa')
    assert parsed.content is None and parsed.calls[0].arguments == '{"city": "Pa'


def test_text_without_blocks_is_all_content():
    assert parse("Just an answer.").content == "Just an answer." and parse("   ").content is None
