"""The official `openai` client against a real server: every call of the OpenAI surface tunesmith offers, with
responses checked against the SDK's own types (no missing, mistyped or unknown fields)."""

from __future__ import annotations

import json

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from sdk_shapes import TOOL_ASK, WEATHER_TOOL, sdk_valid, strict_shape

from tunesmith.tools import parse_tools, validate

ASK = [{"role": "user", "content": "Where is my parcel?"}]
TOOLS = parse_tools([WEATHER_TOOL])


def test_models_retrieve_and_an_unknown_id(server, lively_lm_dir):
    client, _, _ = server
    model = sdk_valid(client.models.retrieve(lively_lm_dir.name), allowed=("kind",))
    assert model.id == lively_lm_dir.name and model.object == "model"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("ft:nope:org::x")
    assert err.value.body["code"] == "model_not_found"


def test_every_response_has_a_request_id(server, lively_lm_dir):
    client, _, _ = server
    raw = client.chat.completions.with_raw_response.create(model=lively_lm_dir.name, messages=ASK, max_tokens=2)
    assert raw.headers["x-request-id"].startswith("req_") and raw.request_id == raw.headers["x-request-id"]
    echoed = client.models.with_raw_response.list(extra_headers={"X-Request-Id": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=lively_lm_dir.name, messages=[], max_tokens=2)
    assert err.value.request_id.startswith("req_"), "errors carry one too"


def test_n_choices_are_the_single_requests_with_consecutive_seeds(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": ASK, "max_tokens": 8, "temperature": 1.0}
    reply = sdk_valid(client.chat.completions.create(n=3, seed=11, **kwargs))
    assert [c.index for c in reply.choices] == [0, 1, 2]
    singles = [client.chat.completions.create(seed=11 + i, **kwargs) for i in range(3)]
    assert [c.message.content for c in reply.choices] == [s.choices[0].message.content for s in singles]
    assert len({c.message.content for c in reply.choices}) > 1, "sampled choices differ"
    assert reply.usage.prompt_tokens == singles[0].usage.prompt_tokens, "the prompt counts once"
    assert reply.usage.completion_tokens == sum(s.usage.completion_tokens for s in singles)


def test_n_choices_prefill_their_prompt_once(lively_lm_dir, start_server):
    with start_server([lively_lm_dir]) as (client, _, app):
        reply = client.chat.completions.create(model=lively_lm_dir.name, messages=ASK, max_tokens=3, n=4,
                                               temperature=1.0, seed=1)
        assert len(reply.choices) == 4
        assert app.state.engine.stats.prefilled_tokens == reply.usage.prompt_tokens


def test_streamed_choices_rebuild_the_whole_ones(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": ASK, "max_tokens": 8, "temperature": 1.0, "seed": 4, "n": 2}
    whole = client.chat.completions.create(**kwargs)
    chunks = [sdk_valid(c) for c in client.chat.completions.create(
        stream=True, stream_options={"include_usage": True, "include_obfuscation": True}, **kwargs)]
    texts, reasons = ["", ""], [None, None]
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            reasons[choice.index] = choice.finish_reason or reasons[choice.index]
    assert texts == [c.message.content for c in whole.choices]
    assert reasons == [c.finish_reason for c in whole.choices]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.model_extra == {} for c in chunks) and chunks[0].obfuscation


def test_completions_take_lists_of_prompts_and_token_ids(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "max_tokens": 5, "temperature": 0}
    reply = sdk_valid(client.completions.create(prompt=["Order 1234 is", "Hello"], n=2, **kwargs))
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    alone = [client.completions.create(prompt=p, **kwargs).choices[0].text for p in ("Order 1234 is", "Hello")]
    assert [c.text for c in reply.choices] == [alone[0], alone[0], alone[1], alone[1]]
    tokenizer = client_tokenizer(lively_lm_dir)
    ids = tokenizer("Order 1234 is", add_special_tokens=False)["input_ids"]
    assert client.completions.create(prompt=ids, **kwargs).choices[0].text == alone[0]
    assert [c.text for c in client.completions.create(prompt=[ids, ids], **kwargs).choices] == [alone[0]] * 2
    streamed = ["", "", "", ""]
    for chunk in client.completions.create(prompt=["Order 1234 is", "Hello"], n=2, stream=True, **kwargs):
        # Only unknown fields are checked: the SDK reuses `Completion` for chunks, whose finish_reason may not be
        # null, while OpenAI's own streams send null until the last chunk (as here).
        strict_shape(chunk)
        streamed[chunk.choices[0].index] += chunk.choices[0].text
    assert streamed == [c.text for c in reply.choices]


def client_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def test_completions_echo_and_best_of(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "prompt": "Order 1234 is", "max_tokens": 5}
    plain = client.completions.create(temperature=0, **kwargs).choices[0].text
    assert client.completions.create(temperature=0, echo=True, **kwargs).choices[0].text == "Order 1234 is" + plain
    best = sdk_valid(client.completions.create(temperature=1.0, seed=3, n=2, best_of=5, logprobs=0, **kwargs))
    candidates = client.completions.create(temperature=1.0, seed=3, n=5, logprobs=0, **kwargs).choices
    ranked = sorted(candidates, key=lambda c: sum(c.logprobs.token_logprobs) / len(c.logprobs.token_logprobs),
                    reverse=True)
    assert [c.text for c in best.choices] == [c.text for c in ranked[:2]]
    assert best.usage.completion_tokens == sum(len(c.logprobs.tokens) for c in candidates), "all 5 are paid for"


def _calls(reply):
    return [(c.function.name, json.loads(c.function.arguments)) for c in reply.choices[0].message.tool_calls]


def test_required_tool_choice_returns_a_valid_call(server, lively_lm_dir):
    client, _, _ = server
    reply = sdk_valid(client.chat.completions.create(
        model=lively_lm_dir.name, messages=TOOL_ASK, tools=[WEATHER_TOOL], tool_choice="required",
        parallel_tool_calls=False, max_tokens=64, temperature=1.0, seed=2, n=3))
    for choice in reply.choices:
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        (call,) = choice.message.tool_calls
        assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_weather"
        assert validate(_as_call(call), TOOLS) == []


def _as_call(call):
    from tunesmith.tools import ToolCall

    return ToolCall(call.id, call.function.name, call.function.arguments)


def test_named_function_and_allowed_tools(server, lively_lm_dir):
    client, _, _ = server
    ping = {"type": "function", "function": {"name": "ping"}}
    for choice in ({"type": "function", "function": {"name": "ping"}},
                   {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
                       {"type": "function", "function": {"name": "ping"}}]}}):
        reply = client.chat.completions.create(model=lively_lm_dir.name, messages=TOOL_ASK, max_tokens=40,
                                               tools=[WEATHER_TOOL, ping], tool_choice=choice, temperature=0,
                                               parallel_tool_calls=False)
        assert _calls(reply)[0] == ("ping", {}) and reply.choices[0].finish_reason == "tool_calls"


def test_streamed_tool_calls_rebuild_with_the_sdks_own_accumulator(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": TOOL_ASK, "tools": [WEATHER_TOOL], "tool_choice": "required",
              "parallel_tool_calls": False, "max_tokens": 64, "temperature": 1.0, "seed": 5}
    whole = client.chat.completions.create(**kwargs)
    state = ChatCompletionStreamState()
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    for chunk in chunks:
        state.handle_chunk(sdk_valid(chunk))
    final = state.get_final_completion()
    assert _calls(final) == _calls(whole) and final.choices[0].finish_reason == "tool_calls"
    deltas = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert deltas[0].id and deltas[0].function.name == "get_weather" and deltas[0].function.arguments == ""
    assert len(deltas) > 2 and all(d.id is None and d.function.name is None for d in deltas[1:]), \
        "the name comes first, then the arguments piece by piece"


def test_auto_lets_a_model_that_calls_tools_call_them(tool_caller_dir, start_server):
    with start_server([tool_caller_dir]) as (client, _, _):
        kwargs = {"model": tool_caller_dir.name, "messages": TOOL_ASK, "tools": [WEATHER_TOOL], "max_tokens": 64,
                  "temperature": 0, "parallel_tool_calls": False}
        reply = sdk_valid(client.chat.completions.create(**kwargs))
        assert reply.choices[0].finish_reason == "tool_calls"
        assert [validate(_as_call(c), TOOLS) for c in reply.choices[0].message.tool_calls] == [[]]
        with client.chat.completions.stream(**kwargs) as stream:
            final = stream.get_final_completion()
        assert _calls(final) == _calls(reply)
        untold = client.chat.completions.create(**kwargs, tool_choice="none")
        assert untold.choices[0].message.tool_calls is None and untold.choices[0].finish_reason in ("stop", "length")
        assert untold.choices[0].message.content.startswith("<tool_call>"), "with none, it is only text"


def test_a_conversation_with_tool_results_is_answered(server, lively_lm_dir):
    client, _, _ = server
    messages = [*TOOL_ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                          "arguments": '{"city": "Paris", "days": 1}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"}]
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice="none", max_tokens=4)
    assert reply.choices[0].message.role == "assistant" and reply.usage.prompt_tokens > 60


@pytest.mark.parametrize("change, param", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                                                                               "required": "city"}}}]},
     "tools[0].function.parameters"),
    ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER_TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [WEATHER_TOOL], "stop": ["x"]}, "stop"),
    ({"tools": [{"type": "custom", "custom": {"name": "grammar_tool"}}]}, "tools[0].type"),
    ({"messages": [{"role": "tool", "content": "18 C"}]}, "messages.0"),
])
def test_bad_tool_requests_are_400s_naming_the_parameter(server, lively_lm_dir, change, param):
    client, _, _ = server
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**{"model": lively_lm_dir.name, "messages": TOOL_ASK, "max_tokens": 4,
                                          **change})
    assert err.value.body["param"] == param
