"""Tool use through the feedback loop: a served answer's tool calls (and the tools and tool turns of its request)
are logged; a thumbs-down with the call the model should have made becomes a tool-use training conversation
that `data prepare` takes, in the format the tools recipe trains on."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from sqlalchemy import select

from tunesmith.config import parse_config
from tunesmith.feedback.dataset import feedback_records, feedback_signal
from tunesmith.feedback.pii import mask_messages
from tunesmith.feedback.schema import Feedback, RequestLog

ORDER = {"type": "object", "properties": {"order_id": {"enum": ["LK-10001", "LK-20002"]}}, "required": ["order_id"],
         "additionalProperties": False}
TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Status of an order.",
                                           "parameters": ORDER}},
         {"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order.",
                                           "parameters": ORDER}}]
ASK = [{"role": "user", "content": "Please cancel order LK-20002."}]
RIGHT_CALL = {"type": "function", "function": {"name": "cancel_order", "arguments": '{"order_id": "LK-20002"}'}}


def _config(model_dir, sources=()):
    # near-duplicate search off, as in the tools recipe: conversations that share their tools' schemas look alike
    return parse_config({"name": "shop", "model": {"name": str(model_dir), "max_length": 512},
                         "data": {"sources": list(sources), "near_duplicates": "off"},
                         "feedback": {"log_requests": True}})


@pytest.fixture
def served(tmp_path, tiny_lm_dir):
    """The tiny LM served with request logging into a project's store, and the openai client on it."""
    import openai

    from tunesmith.config.serve import ServeConfig
    from tunesmith.feedback.serving import attach_project_feedback
    from tunesmith.project import Project
    from tunesmith.serve import create_app, serve_in_thread

    project = Project.create(tmp_path / "shop", _config(tiny_lm_dir))
    app = create_app([str(tiny_lm_dir)], ServeConfig())
    attach_project_feedback(app, project.root, project.config.feedback)
    with serve_in_thread(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60), url, \
            app.state.feedback_store, project


def _logged(store, response_id: str) -> RequestLog:
    deadline = time.monotonic() + 30  # the logger writes after the last byte is sent, in a worker thread
    while time.monotonic() < deadline:
        with store.session() as session:
            row = session.get(RequestLog, response_id)
            if row is not None:
                session.expunge(row)
                return row
        time.sleep(0.05)
    raise AssertionError(f"request {response_id} was never logged")


def test_a_corrected_tool_call_becomes_a_tool_use_training_record(served, tiny_lm_dir, tmp_path):
    from tunesmith.data import prepare
    from tunesmith.feedback.improve import _feedback_rows
    from tunesmith.project import Project

    client, url, store, _ = served
    forced = {"type": "function", "function": {"name": "lookup_order"}}
    reply = client.chat.completions.create(model=tiny_lm_dir.name, messages=ASK, tools=TOOLS, tool_choice=forced,
                                           max_tokens=48, temperature=0)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls[0].function.name == "lookup_order"
    logged = _logged(store, reply.id)
    assert logged.tools == TOOLS and logged.messages == ASK
    assert logged.response_tool_calls == [c.model_dump(exclude_none=True) for c in choice.message.tool_calls]

    streamed = client.chat.completions.create(model=tiny_lm_dir.name, messages=ASK, tools=TOOLS, tool_choice=forced,
                                              max_tokens=48, temperature=0, stream=True)
    chunks = list(streamed)
    calls = _logged(store, chunks[0].id).response_tool_calls
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == \
        [(c.function.name, c.function.arguments) for c in choice.message.tool_calls]

    # the wrong call is thumbed down and corrected; the user's next turn carries the call and its result
    posted = httpx.post(f"{url}/v1/feedback", json={"response_id": reply.id, "rating": "down",
                                                    "correction_tool_calls": [RIGHT_CALL]}, timeout=30)
    assert posted.status_code == 201 and posted.json()["usable_for_training"], posted.text
    follow_up = [*ASK, {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", **RIGHT_CALL}]},
                 {"role": "tool", "tool_call_id": "call_1", "content": '{"cancelled": true}'}]
    second = client.chat.completions.create(model=tiny_lm_dir.name, messages=follow_up, tools=TOOLS, max_tokens=8,
                                            temperature=0, tool_choice="none")
    assert _logged(store, second.id).messages[1:] == [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", **RIGHT_CALL}]}, {"role": "tool", "tool_call_id": "call_1", "content": '{"cancelled": true}'}]
    fixed = httpx.post(f"{url}/v1/feedback", json={"response_id": second.id, "rating": "down",
                                                   "correction": "Order LK-20002 is cancelled."}, timeout=30)
    assert fixed.status_code == 201

    records = feedback_records(_feedback_rows(store), "chat", "sft")
    assert [r["messages"][-1] for r in records] == [
        {"role": "assistant", "content": "", "tool_calls": [{"id": records[0]["messages"][-1]["tool_calls"][0]["id"],
                                                            **RIGHT_CALL}]},
        {"role": "assistant", "content": "Order LK-20002 is cancelled."}]
    assert all(r["tools"] == TOOLS for r in records)
    sources = [{"path": "feedback.jsonl", "split": "train"}]
    retrain = Project.create(tmp_path / "retrain", _config(tiny_lm_dir, sources))
    (retrain.root / "feedback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    prepared = prepare(retrain)
    train = sorted(prepared.split("train"), key=lambda r: r["id"])
    assert len(train) == 2 and all(r["tools"] == TOOLS for r in train)
    assert train[0]["messages"][-1]["tool_calls"][0]["function"] == RIGHT_CALL["function"]
    assert train[1]["messages"][2]["role"] == "tool" and train[1]["messages"][2]["name"] == "cancel_order"


def test_a_correction_call_must_name_an_offered_tool_with_valid_arguments(served, tiny_lm_dir):
    _, url, store, _ = served
    for call, says in [({"type": "function", "function": {"name": "refund", "arguments": "{}"}}, "no tool is named"),
                       ({"type": "function", "function": {"name": "cancel_order", "arguments": '{"order_id": 7}'}},
                        "order_id"),
                       ({"name": "cancel_order"}, "is not a tool call")]:
        posted = httpx.post(f"{url}/v1/feedback", json={"messages": ASK, "tools": TOOLS, "rating": "down",
                                                        "correction_tool_calls": [call]}, timeout=30)
        assert posted.status_code == 422 and says in posted.text, posted.text
    without_tools = httpx.post(f"{url}/v1/feedback", json={"messages": ASK, "correction_tool_calls": [RIGHT_CALL]},
                               timeout=30)
    assert without_tools.status_code == 422 and "needs the tools" in without_tools.text
    with store.session() as session:
        assert session.scalars(select(Feedback)).all() == []


def test_tool_feedback_teaches_by_demonstration_only():
    base = {"id": 1, "messages": ASK, "tools": TOOLS, "answer": "",
            "answer_tool_calls": [{"id": "c", **RIGHT_CALL}], "score": 0.0}
    assert feedback_signal(base, "chat") is None  # a rating alone: KTO rows carry no tools
    corrected = {**base, "correction_tool_calls": [{"id": "c2", **RIGHT_CALL}]}
    assert feedback_signal(corrected, "chat") == "demonstration"  # not a DPO pair: those carry no tools either
    assert feedback_records([corrected], "chat", "dpo") == []


def test_pii_in_tool_call_arguments_is_masked():
    call = {"id": "c", "type": "function", "function": {"name": "email_receipt",
                                                        "arguments": '{"to": "ann@example.com", "copies": 2}'}}
    masked = mask_messages([{"role": "assistant", "content": "", "tool_calls": [call]}])
    assert json.loads(masked[0]["tool_calls"][0]["function"]["arguments"]) == {"to": "[EMAIL]", "copies": 2}
    assert call["function"]["arguments"] == '{"to": "ann@example.com", "copies": 2}'  # the input is not changed



def test_imported_feedback_carries_tool_use_checked_as_training_data(store, tmp_path):
    from tunesmith.errors import DataError
    from tunesmith.feedback import import_feedback
    from tunesmith.feedback.capture import feedback_count
    from tunesmith.feedback.improve import _feedback_rows

    called = [*ASK, {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", **RIGHT_CALL}]},
              {"role": "tool", "tool_call_id": "call_1", "content": '{"cancelled": true}'}]
    jsonl = tmp_path / "support.jsonl"
    jsonl.write_text(json.dumps({"messages": ASK, "tools": TOOLS, "rating": "down",
                                 "correction_tool_calls": [RIGHT_CALL]}) + "\n" +
                     json.dumps({"messages": called, "tools": TOOLS, "rating": "down",
                                 "correction": "Order LK-20002 is cancelled."}) + "\n")
    csv_file = tmp_path / "support.csv"
    cells = [json.dumps(ASK), json.dumps(TOOLS), json.dumps([RIGHT_CALL])]
    csv_file.write_text("messages,tools,correction_tool_calls,rating\n" +
                        ",".join('"' + cell.replace('"', '""') + '"' for cell in cells) + ",down\n")
    assert import_feedback(store, jsonl) == 2 and import_feedback(store, csv_file) == 1

    records = feedback_records(_feedback_rows(store), "chat", "sft")
    assert len(records) == 3 and all(r["tools"] == TOOLS for r in records)
    assert [r["messages"][-1].get("tool_calls", [{}])[0].get("function") for r in records] == [
        RIGHT_CALL["function"], None, RIGHT_CALL["function"]]
    tool_turn = records[1]["messages"][2]  # the result, named after the call it answers, as data prepare has it
    assert tool_turn == {"role": "tool", "content": '{"cancelled": true}', "tool_call_id": "call_1",
                         "name": "cancel_order"}

    bad = tmp_path / "bad.jsonl"
    undeclared = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "refund", "arguments": "{}"}}]}]
    unanswered = [*ASK, {"role": "tool", "tool_call_id": "call_9", "content": "{}"}]
    for messages, says in [(undeclared, "messages[1].tool_calls[0].function.name: calls 'refund', which the row "
                                        "does not declare"),
                           (unanswered, "messages[1].tool_call_id: the result answers no")]:
        bad.write_text(json.dumps({"messages": ASK, "rating": "up"}) + "\n" +
                       json.dumps({"messages": messages, "tools": TOOLS, "rating": "down"}) + "\n")
        with pytest.raises(DataError, match=rf"bad.jsonl:2: {re.escape(says)}"):
            import_feedback(store, bad)
    wrong_call = {"type": "function", "function": {"name": "cancel_order", "arguments": '{"order_id": 7}'}}
    bad.write_text(json.dumps({"messages": ASK, "tools": TOOLS, "correction_tool_calls": [wrong_call]}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: correction_tool_calls\[0\]"):
        import_feedback(store, bad)
    assert feedback_count(store) == 3  # nothing of a refused file is stored
