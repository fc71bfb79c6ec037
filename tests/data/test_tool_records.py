"""Tool-use rows: OpenAI tools/tool_calls/tool messages and ShareGPT function_call/observation turns become one
canonical record, are checked with file:line errors, and survive prepare (Parquet), dedup and export."""

from __future__ import annotations

import copy
import json

import pytest

from tunesmith.data import prepare
from tunesmith.data.export import to_format
from tunesmith.data.formats import convert
from tunesmith.data.validate import validate_file

ORDER = {"type": "function", "function": {"name": "lookup_order", "description": "Status of an order.",
                                          "parameters": {"type": "object", "properties": {
                                              "order_id": {"type": "string", "pattern": "^LK-[0-9]{5}$"}},
                                              "required": ["order_id"]}}}
BOOK = {"type": "function", "function": {"name": "book_service", "parameters": {"type": "object", "properties": {
    "bike": {"enum": ["Trail X", "Cargo One"]}, "date": {"type": "string"}}, "required": ["bike", "date"]}}}


def openai_row(order_id: str = "LK-12345", with_result: bool = True) -> dict:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Where is {order_id}?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "call_a", "type": "function", "function": {
                    "name": "lookup_order", "arguments": json.dumps({"order_id": order_id}, indent=2)}}]}]
    if with_result:
        messages += [{"role": "tool", "tool_call_id": "call_a", "content": '{"status": "shipped"}'},
                     {"role": "assistant", "content": f"{order_id} has shipped."}]
    return {"tools": copy.deepcopy([ORDER, BOOK]), "messages": messages}


def convert_row(row: dict, fmt: str = "openai"):
    return convert(row, fmt, "chat", "tools.jsonl", 7)


def test_openai_row_becomes_the_canonical_record():
    record, issues = convert_row(openai_row())
    assert issues == []
    assert record["tools"] == [ORDER, BOOK]
    call = record["messages"][2]
    function = {"name": "lookup_order", "arguments": '{"order_id": "LK-12345"}'}  # in json.dumps' layout
    assert call == {"role": "assistant", "content": "", "tool_calls": [{"id": "call_a", "type": "function",
                                                                         "function": function}]}
    assert record["messages"][3] == {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_a",
                                     "name": "lookup_order"}


def test_sharegpt_function_call_and_observation_make_the_same_record():
    row = {"system": "Be brief.", "tools": json.dumps([ORDER["function"], BOOK["function"]]),  # LLaMA-Factory's way
           "conversations": [{"from": "human", "value": "Where is LK-12345?"},
                             {"from": "function_call", "value": json.dumps({"name": "lookup_order",
                                                                            "arguments": {"order_id": "LK-12345"}})},
                             {"from": "observation", "value": '{"status": "shipped"}'},
                             {"from": "gpt", "value": "LK-12345 has shipped."}]}
    shared, issues = convert_row(row, "sharegpt")
    assert issues == []
    expected, _ = convert_row(openai_row())
    call_id = shared["messages"][2]["tool_calls"][0]["id"]
    assert shared["messages"][3]["tool_call_id"] == call_id
    expected["messages"][2]["tool_calls"][0]["id"] = expected["messages"][3]["tool_call_id"] = call_id
    assert shared == expected


@pytest.mark.parametrize("change, field, fragment", [
    (lambda r: r["messages"][2]["tool_calls"][0]["function"].update(name="track_order"),
     "messages[2].tool_calls[0].function.name", "calls 'track_order', which the row does not declare"),
    (lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments='{"order_id": '),
     "messages[2].tool_calls[0].function.arguments", "not valid JSON"),
    (lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments='{"order_id": "12"}'),
     "messages[2].tool_calls[0].function.arguments", "does not match '^LK-[0-9]{5}$'"),
    (lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments='{}'),
     "messages[2].tool_calls[0].function.arguments", "'order_id' is a required property"),
    (lambda r: r["messages"][3].update(tool_call_id="call_zz"),
     "messages[3].tool_call_id", "answers no earlier call"),
    (lambda r: r["messages"][3].pop("tool_call_id"), "messages[3].tool_call_id", "needs tool_call_id"),
    (lambda r: r.pop("tools"), "messages[2].tool_calls[0].function.name", "declared tools: none"),
    (lambda r: r["tools"][0]["function"].update(name="has space"), "tools[0].function.name", "1-64 letters"),
    (lambda r: r["messages"][1].update(tool_calls=r["messages"][2]["tool_calls"]), "messages[1].tool_calls",
     "only assistant messages call tools"),
    (lambda r: r["messages"].insert(4, dict(r["messages"][3])), "messages[4].tool_call_id", "answered twice"),
])
def test_bad_tool_rows_name_file_line_and_field(change, field, fragment):
    row = openai_row()
    change(row)
    record, issues = convert_row(row)
    assert record is None
    issue = next((i for i in issues if i.field == field), None)
    assert issue is not None, [str(i) for i in issues]
    assert fragment in issue.message and (issue.file, issue.line) == ("tools.jsonl", 7)


def test_an_observation_without_a_function_call_is_refused():
    row = {"tools": [ORDER], "conversations": [{"from": "human", "value": "hi"},
                                               {"from": "observation", "value": "{}"}, {"from": "gpt", "value": "ok"}]}
    _, issues = convert_row(row, "sharegpt")
    assert [(i.field, i.message) for i in issues] == [
        ("conversations[1].from", "an observation answers no function_call")]


def test_validate_file_reports_the_line_of_each_bad_row(tmp_path):
    bad = openai_row()
    bad["messages"][2]["tool_calls"][0]["function"]["name"] = "track_order"
    path = tmp_path / "tools.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (openai_row(), bad, openai_row("LK-54321"))) + "\n")
    result = validate_file(path)
    assert result.records == 2
    assert [(e.line, e.field) for e in result.errors] == [(2, "messages[2].tool_calls[0].function.name")]


def test_tool_records_survive_prepare_and_dedup(make_project):
    rows = [openai_row(f"LK-{10000 + i * 137}", with_result=i % 2 == 0) for i in range(12)]
    rows.append(copy.deepcopy(rows[0]))  # an exact duplicate: dropped
    other_tool = copy.deepcopy(rows[1])  # same question, another tool called: a different record, kept
    other_tool["messages"][2]["tool_calls"][0]["function"] = {"name": "book_service",
                                                              "arguments": '{"bike": "Trail X", "date": "soon"}'}
    rows.append(other_tool)
    project = make_project({"sources": [{"path": "tools.jsonl"}], "near_duplicates": "off"},
                           files={"tools.jsonl": rows})
    dataset = prepare(project)
    stored = [r for name in ("train", "validation", "test") for r in dataset.split(name)]
    assert len(stored) == 13
    expected = {json.dumps(convert_row(r)[0]["messages"], sort_keys=True) for r in rows}
    assert {json.dumps(r["messages"], sort_keys=True) for r in stored} == expected
    assert all(r["tools"] == [ORDER, BOOK] for r in stored), "tools come back in their own key order"


@pytest.mark.parametrize("fmt", ["openai", "sharegpt"])
def test_export_round_trips(fmt):
    record, _ = convert_row(openai_row())
    again, issues = convert(to_format(record, fmt), fmt, "chat", "x.jsonl", 1)
    assert issues == []
    if fmt == "sharegpt":  # ShareGPT has no call ids: new ones, consistently used
        call_id = again["messages"][2]["tool_calls"][0]["id"]
        record["messages"][2]["tool_calls"][0]["id"] = record["messages"][3]["tool_call_id"] = call_id
    assert again == record


def test_cleaning_reaches_the_values_inside_call_arguments():
    from collections import Counter

    from tunesmith.config.data import DataConfig
    from tunesmith.data.clean import clean_record, cleaning_steps

    row = openai_row()
    row["tools"][0]["function"]["parameters"] = {"type": "object"}
    row["messages"][1]["content"] = "Where is <b>LK-12345</b>? Mail me at ann@example.com"
    row["messages"][2]["tool_calls"][0]["function"]["arguments"] = json.dumps(
        {"order_id": "<b>LK-12345</b>", "notify": ["ann@example.com"], "count": 1234567})
    record, _ = convert(row, "openai", "chat", "x.jsonl", 1)
    counts = Counter()
    clean_record(record, cleaning_steps(DataConfig(mask_pii=True)), counts)
    assert record["messages"][1]["content"] == "Where is LK-12345? Mail me at [EMAIL]"
    arguments = json.loads(record["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"order_id": "LK-12345", "notify": ["[EMAIL]"], "count": 1234567}, "numbers stay JSON"
    assert counts["pii_masked"] == 1 and counts["html_stripped"] == 1


def test_preference_pairs_keep_to_plain_roles():
    row = {"prompt": [{"role": "tool", "content": "18 C"}], "chosen": "Warm.", "rejected": "Cold."}
    record, issues = convert(row, "chosen_rejected", "chat", "p.jsonl", 3)
    assert record is None and [(i.field, i.message) for i in issues] == [("prompt[0].role", "unknown role 'tool'")]
