"""Constrained decoding (serve.constrain): response_format json_schema answers always parse and validate, tool
calls follow their schemas, and what cannot be enforced is a 400 naming the parameter."""

from __future__ import annotations

import json

import openai
import pytest
import torch
from sdk_shapes import WEATHER_TOOL

from tunesmith.serve.constrain import Constraint, json_grammar, tools_grammar
from tunesmith.tools import format_calls, parse, parse_tools

ASK = [{"role": "user", "content": "Describe order 1234 as JSON."}]
SCHEMAS = {
    "flat": {"type": "object", "properties": {"status": {"enum": ["shipped", "delayed", "lost"]},
                                              "days": {"type": "integer", "minimum": 0, "maximum": 30},
                                              "express": {"type": "boolean"}},
             "required": ["status", "days", "express"], "additionalProperties": False},
    "nested": {"type": "object", "properties": {"items": {"type": "array", "maxItems": 3, "items": {
        "type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}$"},
                                         "qty": {"type": "integer", "minimum": 1, "maximum": 9}},
        "required": ["sku", "qty"], "additionalProperties": False}}}, "required": ["items"],
        "additionalProperties": False},
    "refs": {"$defs": {"money": {"type": "object", "properties": {
        "amount": {"type": "number", "minimum": 0, "maximum": 1000}, "currency": {"enum": ["EUR", "USD"]}},
        "required": ["amount", "currency"], "additionalProperties": False}},
        "type": "object", "properties": {"total": {"$ref": "#/$defs/money"},
                                         "note": {"type": ["string", "null"], "maxLength": 12}},
        "required": ["total", "note"], "additionalProperties": False},
    "choice": {"anyOf": [{"type": "object", "properties": {"ok": {"const": True}}, "required": ["ok"],
                          "additionalProperties": False},
                         {"type": "object", "properties": {"error": {"type": "string", "maxLength": 10}},
                          "required": ["error"], "additionalProperties": False}]},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_json_schema_answer_parses_and_validates(server, lively_lm_dir, name):
    from jsonschema import validate

    client, _, _ = server
    schema = SCHEMAS[name]
    reply = client.chat.completions.create(
        model=lively_lm_dir.name, messages=ASK, max_tokens=64, temperature=1.0, seed=9, n=6,
        response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}})
    for choice in reply.choices:
        assert choice.finish_reason == "stop", choice.message.content
        validate(json.loads(choice.message.content), schema)


def test_streamed_json_answer_is_the_whole_one(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": ASK, "max_tokens": 64, "temperature": 1.0, "seed": 3,
              "response_format": {"type": "json_schema", "json_schema": {"name": "flat", "schema": SCHEMAS["flat"]}}}
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    chunks = client.chat.completions.create(stream=True, **kwargs)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole


def test_json_object_answers_are_objects(server, lively_lm_dir):
    client, _, _ = server
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=ASK, max_tokens=48, temperature=0,
                                           response_format={"type": "json_object"})
    text = reply.choices[0].message.content
    assert text.startswith("{")
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)


def test_constraints_apply_on_the_plain_generate_path(lively_lm_dir, tmp_path, start_server):
    """Prompt-tuned runs decode through model.generate; the constraint rides along as a logits processor."""
    from tunesmith.config import parse_config
    from tunesmith.train import run_training

    chat = [{"id": f"c{i}", "messages": [{"role": "user", "content": f"Track parcel {i}"},
                                         {"role": "assistant", "content": f"Parcel {i} ships today."}]}
            for i in range(4)]
    config = parse_config({"model": {"name": str(lively_lm_dir), "max_length": 48},
                           "training": {"max_steps": 1, "batch_size": 2, "eval_every": 100, "num_threads": 1},
                           "method": {"name": "prompt", "num_virtual_tokens": 4}})
    run_training(config, chat, chat[:2], tmp_path / "prompt-run")
    with start_server([tmp_path / "prompt-run"]) as (client, _, _):
        reply = client.chat.completions.create(
            model="prompt-run", messages=ASK, max_tokens=64, temperature=1.0, seed=1,
            response_format={"type": "json_schema", "json_schema": {"name": "flat", "schema": SCHEMAS["flat"]}})
        assert reply.choices[0].finish_reason == "stop"
        assert set(json.loads(reply.choices[0].message.content)) == {"status", "days", "express"}


@pytest.mark.parametrize("change, param", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}}},
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema"}}, "response_format"),
    ({"response_format": {"type": "json_object"}, "stop": ["}"]}, "stop"),
    ({"response_format": {"type": "json_object"}, "tools": [WEATHER_TOOL]}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "string", "format": "no-such-format"}}}}}},
     "response_format"),
])
def test_what_cannot_be_enforced_is_a_400_naming_it(server, lively_lm_dir, change, param):
    client, _, _ = server
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**{"model": lively_lm_dir.name, "messages": ASK, "max_tokens": 4, **change})
    assert err.value.body["param"] == param


def test_the_llamacpp_backend_refuses_constraints_and_processors(lively_lm_dir):
    from fastapi.testclient import TestClient

    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import ModelRegistry, create_app
    from tunesmith.serve.llamacpp import LlamaCppEngine

    registry = ModelRegistry.from_paths([lively_lm_dir])
    app = create_app(registry, ServeConfig(backend="llamacpp"), engine=LlamaCppEngine(registry, 1, 0, 4))
    with TestClient(app) as client:
        for extra, param in [({"response_format": {"type": "json_object"}}, "response_format"),
                             ({"tools": [WEATHER_TOOL]}, "tools"), ({"logit_bias": {"5": 3}}, "logit_bias"),
                             ({"presence_penalty": 0.5}, "presence_penalty"),
                             ({"frequency_penalty": 0.5}, "frequency_penalty")]:
            reply = client.post("/v1/chat/completions", json={"model": lively_lm_dir.name, "messages": ASK,
                                                              "max_tokens": 2, **extra})
            assert reply.status_code == 400 and reply.json()["error"]["param"] == param, reply.text
            assert "llamacpp" in reply.json()["error"]["message"]
        best_of = client.post("/v1/completions", json={"model": lively_lm_dir.name, "prompt": "hi", "max_tokens": 2,
                                                       "best_of": 2})
        assert best_of.status_code == 400 and best_of.json()["error"]["param"] == "best_of"


# the grammars themselves, token by token -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    from tunesmith.models.tiny import real_tokenizer

    return real_tokenizer("smollm2-135m-instruct")


def _walk(constraint: Constraint, tokenizer, text: str) -> bool:
    """Whether the grammar lets the tokens of `text` through, one at a time, and then lets the answer end."""
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        if not constraint.allowed(len(tokenizer))[token]:
            return False
        constraint.accept(token)
    return bool(constraint.allowed(len(tokenizer))[tokenizer.eos_token_id])


TOOLS = parse_tools([WEATHER_TOOL, {"type": "function", "function": {"name": "ping"}}])
WEATHER = '{"city": "Paris", "days": 2}'


@pytest.mark.parametrize("required, parallel, text, allowed", [
    (False, True, "Just text, no call.", True),
    (False, True, "Let me look.\n" + format_calls(parse(f'<tool_call>{{"name": "get_weather", "arguments": '
                                                         f'{WEATHER}}}</tool_call>').calls), True),
    (False, True, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', False),
    (False, True, '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>', False),
    (True, False, "Just text.", False),
    (True, False, '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>', True),
    (True, False, '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>\n'
                  '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>', False),
    (True, True, '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>\n'
                 f'<tool_call>\n{{"name": "get_weather", "arguments": {WEATHER}}}\n</tool_call>', True),
])
def test_tool_grammars_accept_exactly_valid_calls(tokenizer, required, parallel, text, allowed):
    assert _walk(Constraint(tools_grammar(TOOLS, required, parallel), tokenizer), tokenizer, text) is allowed


def test_forced_text_is_spelled_in_its_usual_tokens(tokenizer):
    constraint = Constraint(tools_grammar(TOOLS[1:], True, False), tokenizer)
    generator, tokens = torch.Generator().manual_seed(0), []
    while len(tokens) < 40:
        token = int(torch.argmax(constraint.mask(torch.randn(len(tokenizer), generator=generator))))
        if token == tokenizer.eos_token_id:
            break
        constraint.accept(token)
        tokens.append(token)
    text = tokenizer.decode(tokens)
    assert text == '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>'
    assert tokens == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_a_models_other_end_tokens_end_a_constrained_answer_too(tokenizer):
    constraint = Constraint(json_grammar({"type": "boolean"}), tokenizer, eos_ids=[0, 2])
    assert _walk(constraint, tokenizer, "true") and bool(constraint.allowed(len(tokenizer))[0])
    constraint.accept(0)  # <|endoftext|> counts as the grammar's end token
    assert constraint.matcher.is_stopped()


# forced tokens: appended without sampling, fed to the model together -------------------------------------------
def _decode_counting_forwards(lively_lm_dir, params: list, monkeypatch, fast_forward: bool, reasons=None):
    """Each sequence's tokens and the forwards run; `reasons` (a list) gets each one's finish reason."""
    from tunesmith.inference import render_prompt
    from tunesmith.serve.batch import Finished, RunningBatch, Sequence
    from tunesmith.serve.registry import ModelRegistry

    loaded = ModelRegistry.from_paths([lively_lm_dir]).acquire(lively_lm_dir.name)
    monkeypatch.setattr(RunningBatch, "fast_forward", fast_forward)
    forwards = []
    forward = RunningBatch._forward
    monkeypatch.setattr(RunningBatch, "_forward", lambda self, rows, **inputs: forwards.append(1) or
                        forward(self, rows, **inputs))
    prompt = loaded.tokenizer(render_prompt(loaded.tokenizer, ASK), add_special_tokens=False)["input_ids"]
    finished = {}
    seqs = [Sequence(lively_lm_dir.name, prompt, p, lambda event, i=i: finished.setdefault(i, event.reason)
                     if isinstance(event, Finished) else None) for i, p in enumerate(params)]
    batch = RunningBatch(loaded)
    batch.add(seqs)
    while len(batch):
        batch.step()
    if reasons is not None:
        reasons.extend(finished[i] for i in range(len(seqs)))
    return [list(s.ids) for s in seqs], len(forwards)


def test_a_wholly_forced_tool_call_takes_one_forward_after_the_prompt(lively_lm_dir, monkeypatch):
    from tunesmith.serve.sampling import SamplingParams

    ping = [SamplingParams(max_tokens=40, grammar=tools_grammar(TOOLS[1:], True, False))]
    slow, slow_forwards = _decode_counting_forwards(lively_lm_dir, ping, monkeypatch, fast_forward=False)
    fast, fast_forwards = _decode_counting_forwards(lively_lm_dir, ping, monkeypatch, fast_forward=True)
    assert fast == slow and len(fast[0]) > 10
    assert slow_forwards == len(slow[0]) + 1  # the prefill, then one step per token (the last samples the end)
    assert fast_forwards == 1  # the prefill picks the first token; the rest of the call and its end are forced


def test_an_end_the_grammar_forces_finishes_the_answer_there(lively_lm_dir, monkeypatch):
    """A closed required call allows only the end: the answer stops there ("stop", so tool_calls), even when the
    call fills max_tokens exactly; sampling the end token instead would call that answer cut off ("length")."""
    from tunesmith.serve.sampling import SamplingParams

    grammar = tools_grammar(TOOLS[1:], True, False)
    call, _ = _decode_counting_forwards(lively_lm_dir, [SamplingParams(max_tokens=40, grammar=grammar)],
                                        monkeypatch, fast_forward=True)
    exact = [SamplingParams(max_tokens=len(call[0]), grammar=grammar)]
    slow_reasons, fast_reasons = [], []
    slow, _ = _decode_counting_forwards(lively_lm_dir, exact, monkeypatch, fast_forward=False, reasons=slow_reasons)
    fast, _ = _decode_counting_forwards(lively_lm_dir, exact, monkeypatch, fast_forward=True, reasons=fast_reasons)
    assert fast == slow == call
    assert slow_reasons == ["length"] and fast_reasons == ["stop"]


def test_fast_forward_changes_no_token_in_a_mixed_batch(lively_lm_dir, monkeypatch):
    from tunesmith.serve.sampling import SamplingParams

    params = [SamplingParams(max_tokens=48, grammar=json_grammar(SCHEMAS["refs"])),
              SamplingParams(max_tokens=12),  # unconstrained: its rows are padded in steps that feed forced runs
              SamplingParams(max_tokens=48, grammar=tools_grammar(TOOLS, True, True)),
              SamplingParams(max_tokens=48, grammar=json_grammar(SCHEMAS["flat"]))]
    slow, slow_forwards = _decode_counting_forwards(lively_lm_dir, params, monkeypatch, fast_forward=False)
    fast, fast_forwards = _decode_counting_forwards(lively_lm_dir, params, monkeypatch, fast_forward=True)
    assert fast == slow
    assert fast_forwards < slow_forwards
