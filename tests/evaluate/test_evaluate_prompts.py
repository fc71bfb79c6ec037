"""Held-out items, the few-shot prompt, checks, JSON metrics and the judge parser (pure functions)."""

from __future__ import annotations

import math

from tunesmith.config.evaluation import CheckConfig
from tunesmith.evaluate.checks import check_scores, expects_json, json_field_accuracy, json_valid, parse_json
from tunesmith.evaluate.items import chat_item, chat_items, few_shot_prompt, few_shot_system_prompt, pick_examples
from tunesmith.evaluate.judge import judge_scores, parse_verdict


def _record(i, *turns, facts=(), augmented=False):
    roles = ["system", "user", "assistant", "user", "assistant"]
    return {"id": str(i), "messages": [{"role": r, "content": c} for r, c in zip(roles, turns, strict=False)],
            "meta": {"facts": list(facts), **({"augmented": True} if augmented else {})}}


def test_the_prompt_is_everything_before_the_last_assistant_turn():
    item = chat_item(_record(1, "sys", "hi", "hello!", "price?", "$1,499", facts=["$1,499"]))
    assert [m["content"] for m in item.prompt] == ["sys", "hi", "hello!", "price?"]
    assert item.reference == "$1,499" and item.facts == ["$1,499"]
    assert chat_item({"messages": [{"role": "user", "content": "no answer"}]}) is None


def test_augmented_records_are_never_held_out_or_used_as_shots():
    records = [_record(i, "s", f"q{i}", f"a{i}", augmented=i % 2 == 0) for i in range(10)]
    assert [i.id for i in chat_items(records)] == ["1", "3", "5", "7", "9"]
    assert all(int(e.id) % 2 for e in pick_examples(records, 3, seed=0))
    assert pick_examples(records, 3, seed=0) == pick_examples(records, 3, seed=0)


def test_few_shot_prompt_puts_examples_before_the_question():
    shots = chat_items([_record(1, "s", "q1", "a1"), _record(2, "s", "q2", "a2")])
    system = few_shot_system_prompt("Answer bike questions.", "Customers", "Short and friendly.")
    item = chat_item(_record(3, "own system", "my question", "ref"))
    messages = few_shot_prompt(item, system, shots)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Answer bike questions." in messages[0]["content"] and "own system" in messages[0]["content"]
    assert [m["content"] for m in messages[1:]] == ["q1", "a1", "q2", "a2", "my question"]


def test_keyword_and_regex_checks():
    checks = [CheckConfig(name="signoff", keywords=["Ride on", "Larkspur"]),
              CheckConfig(name="no-url", kind="regex", pattern=r"https?://", must="not_appear"),
              CheckConfig(name="exact-case", keywords=["Ride on"], case_sensitive=True)]
    scores = check_scores(checks, ["ride on! — larkspur", "See http://x.example. Ride on, Larkspur"])
    assert scores == {"check:signoff": [1.0, 1.0], "check:no-url": [1.0, 0.0], "check:exact-case": [0.0, 1.0]}


def test_json_metrics():
    assert parse_json('Sure!\n```json\n{"a": 1}\n```') == {"a": 1}
    assert json_valid('{"a": 1') == 0.0
    assert json_field_accuracy('{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 37, "city": "x"}') == 1 / 3
    assert json_field_accuracy("not json", '{"a": 1}') == 0.0
    assert math.isnan(json_field_accuracy("{}", "plain text"))
    assert expects_json(['{"a": 1}', '{"b": 2}', "text"]) and not expects_json(["text", "more", '{"a": 1}'])


def test_judge_parses_yes_no_and_leaves_other_replies_out():
    assert parse_verdict("Yes.") == 1.0 and parse_verdict(" no, because") == 0.0
    assert math.isnan(parse_verdict("Maybe"))
    items = chat_items([_record(1, "s", "q", "45 days")])
    seen = []

    def ask(conversations):
        seen.extend(conversations)
        return ["yes" if "45 days" in c[-1]["content"].split("Candidate answer:")[1] else "no" for c in conversations]

    assert judge_scores(ask, items * 2, ["within 45 days", "30 days"]) == [1.0, 0.0]
    assert "Reference answer: 45 days" in seen[0][-1]["content"]
