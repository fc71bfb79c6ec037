"""Tool metrics (evaluate/tools.py) and how evaluation offers tools: answers are read with tools.parse, scored
against the reference calls, NaN where a metric does not apply; few-shot examples show whole tool exchanges."""

from __future__ import annotations

import json
import math

import pytest

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.compare import summarize
from tunesmith.evaluate.contenders import ChatContender, few_shot, score_chat
from tunesmith.evaluate.items import chat_items, pick_examples
from tunesmith.evaluate.tools import score_item
from tunesmith.tools import Tool, ToolCall, format_calls

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
             "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
         {"type": "function", "function": {"name": "cancel_order", "parameters": {
             "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]


def call(name: str, **arguments) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def said(name: str, arguments: str) -> str:
    return format_calls([ToolCall("x", name, arguments)])


NAN = float("nan")


@pytest.mark.parametrize("reference, output, expected", [
    ([call("lookup_order", order_id="LK-1")], said("lookup_order", '{"order_id":"LK-1"}'),
     {"tool_call_accuracy": 1, "tool_called_when_should": 1, "tool_name_accuracy": 1, "tool_arguments_exact": 1,
      "tool_schema_valid": 1, "tool_answered_when_should": NAN}),
    ([call("lookup_order", order_id="LK-1")], said("lookup_order", '{"order_id": "LK-2"}'),
     {"tool_call_accuracy": 0, "tool_name_accuracy": 1, "tool_arguments_exact": 0, "tool_schema_valid": 1}),
    ([call("lookup_order", order_id="LK-1")], said("cancel_order", '{"order_id": "LK-1"}'),
     {"tool_call_accuracy": 0, "tool_name_accuracy": 0, "tool_called_when_should": 1}),
    ([call("lookup_order", order_id="LK-1")], said("lookup_order", '{"id": 1}'),
     {"tool_schema_valid": 0, "tool_name_accuracy": 1}),
    ([call("lookup_order", order_id="LK-1")], "Your order is on its way.",
     {"tool_call_accuracy": 0, "tool_called_when_should": 0, "tool_name_accuracy": 0, "tool_schema_valid": NAN}),
    ([], "We open at nine.", {"tool_call_accuracy": 1, "tool_answered_when_should": 1,
                              "tool_called_when_should": NAN, "tool_name_accuracy": NAN}),
    ([], said("ship_it", "{}"), {"tool_call_accuracy": 0, "tool_answered_when_should": 0, "tool_schema_valid": 0}),
])
def test_score_item(reference, output, expected):
    scores = score_item(TOOLS, reference, output)
    for metric, value in expected.items():
        assert (math.isnan(scores[metric]) if math.isnan(value) else scores[metric] == value), (metric, scores)


def records() -> list[dict]:
    ask = {"role": "user", "content": "Where is LK-{}?"}
    out = []
    for i in range(6):
        messages = [{**ask, "content": ask["content"].format(i)},
                    {"role": "assistant", "content": "", "tool_calls": [call("lookup_order", order_id=f"LK-{i}")]}]
        if i % 3 == 0:
            messages += [{"role": "tool", "tool_call_id": "call_1", "name": "lookup_order", "content": "shipped"},
                         {"role": "assistant", "content": f"LK-{i} has shipped."}]
        out.append({"id": f"r{i}", "tools": TOOLS, "messages": messages, "meta": {}})
    out.append({"id": "plain", "tools": TOOLS, "meta": {}, "messages": [
        {"role": "user", "content": "When do you open?"}, {"role": "assistant", "content": "At nine."}]})
    return out


def test_items_keep_the_tools_and_the_reference_calls():
    items = chat_items(records())
    assert items[1].tools == TOOLS and items[1].calls == [call("lookup_order", order_id="LK-1")]
    assert items[1].reference == said("lookup_order", '{"order_id": "LK-1"}')
    assert items[0].calls == [] and items[0].prompt[-1]["role"] == "tool", "after a result, the answer is in words"
    assert items[0].prompt[1]["tool_calls"] == [call("lookup_order", order_id="LK-0")]


def test_score_chat_offers_the_tools_and_scores_tool_use():
    items = chat_items(records())
    seen = {}

    def answer(conversations, tools=None):
        seen["tools"] = tools
        return [said("lookup_order", f'{{"order_id": "LK-{i}"}}') if i % 3 else "It shipped."
                for i in range(len(conversations) - 1)] + [said("cancel_order", '{"order_id": "LK-9"}')]

    settings = EvaluationConfig(perplexity=False, bootstrap_samples=100)
    result = score_chat(items, ChatContender("stub", answer), settings)
    assert all(isinstance(t, Tool) for offered in seen["tools"] for t in offered) and len(seen["tools"]) == 7
    assert result.per_item["tool_call_accuracy"] == [1, 1, 1, 1, 1, 1, 0]
    assert result.details["tool_confusion"] == {"reference call": {"called": 4, "answered": 0},
                                                "reference answer": {"called": 1, "answered": 2}}
    row = summarize([result], items, "chat", settings).rows[0]
    assert row.metrics["tool_answered_when_should"].n == 3 and row.metrics["tool_called_when_should"].n == 4


def test_plain_chat_evaluation_is_unchanged():
    plain = [{"id": "a", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}]
    result = score_chat(chat_items(plain), ChatContender("stub", lambda conversations: ["Hello"]),
                        EvaluationConfig(perplexity=False))
    assert not any(metric.startswith("tool_") for metric in result.per_item) and result.details == {}


def test_few_shot_examples_show_each_tool_exchange_whole():
    examples = pick_examples(records(), k=2, seed=0)
    assert {bool(e.calls) for e in examples} == {True, False}, "a call and an answer, not two plain answers"
    prompt = few_shot("Help.", examples)(chat_items(records())[1])
    shown = [m for m in prompt if m.get("tool_calls")]
    assert shown and shown[0]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert all(m["content"] == "" for m in shown)
