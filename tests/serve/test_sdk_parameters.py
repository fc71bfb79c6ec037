"""Every parameter of the SDK's `chat.completions.create` and `completions.create` is honoured or refused with a
400 naming it: none is accepted and ignored. A parameter a newer SDK adds fails this test until it is classified."""

from __future__ import annotations

import inspect

import openai
import pytest
from openai.resources.chat.completions import Completions as ChatCompletions
from openai.resources.completions import Completions
from sdk_shapes import TOOL_ASK, WEATHER_TOOL

CLIENT_SIDE = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}
ASK = [{"role": "user", "content": "Where is my parcel?"}]
TOKEN = 32  # "0" in the SmolLM2 vocabulary


def _one_call(reply):
    return len(reply.choices[0].message.tool_calls) == 1 and reply.choices[0].finish_reason == "tool_calls"


# parameter → (value, what happens: a check of the reply when honoured, "refused" otherwise, extra arguments)
CHAT = {
    "messages": (ASK, lambda r: r.choices[0].message.role == "assistant", {}),
    "model": (None, lambda r: r.model, {}),
    "audio": ({"voice": "alloy", "format": "wav"}, "refused", {}),
    "frequency_penalty": (1.5, lambda r: r.choices, {}),  # the arithmetic: test_logits_adjustments
    "function_call": ("auto", "refused", {}),
    "functions": ([WEATHER_TOOL["function"]], "refused", {}),
    "logit_bias": ({str(TOKEN): 100}, lambda r: r.choices[0].message.content == "000", {}),
    "logprobs": (True, lambda r: len(r.choices[0].logprobs.content) == 3, {}),
    "max_completion_tokens": (3, lambda r: r.usage.completion_tokens == 3, {"max_tokens": None}),
    "max_tokens": (3, lambda r: r.usage.completion_tokens == 3, {}),
    "metadata": ({"team": "support"}, "refused", {}),
    "modalities": (["text", "audio"], "refused", {}),
    "moderation": ({"model": "omni-moderation-latest"}, "refused", {}),
    "n": (2, lambda r: [c.index for c in r.choices] == [0, 1], {}),
    "parallel_tool_calls": (False, _one_call, {"tools": [WEATHER_TOOL], "tool_choice": "required",
                                               "max_tokens": 48, "messages": TOOL_ASK}),
    "prediction": ({"type": "content", "content": "It ships"}, "refused", {}),
    "presence_penalty": (1.5, lambda r: r.choices, {}),  # the arithmetic: test_logits_adjustments
    "prompt_cache_key": ("user-1", "refused", {}),
    "prompt_cache_options": ({"mode": "auto"}, "refused", {}),
    "prompt_cache_retention": ("24h", "refused", {}),
    "reasoning_effort": ("low", "refused", {}),
    "response_format": ({"type": "json_object"}, lambda r: r.choices[0].message.content.startswith("{"),
                        {"max_tokens": 8}),
    "safety_identifier": ("user-1", "refused", {}),
    "seed": (7, lambda r: r.choices, {"temperature": 1.0}),  # reproducibility: test_api, test_openai_compat
    "service_tier": ("flex", "refused", {}),
    "stop": (["\n"], lambda r: "\n" not in r.choices[0].message.content, {"max_tokens": 12}),
    "store": (True, "refused", {}),
    "stream": (True, None, {}),  # streams: test_api, test_openai_compat
    "stream_options": ({"include_usage": True}, None, {"stream": True}),
    "temperature": (0.0, lambda r: r.choices, {}),
    "tool_choice": ("required", lambda r: r.choices[0].finish_reason == "tool_calls",
                    {"tools": [WEATHER_TOOL], "max_tokens": 48, "parallel_tool_calls": False}),
    "tools": ([WEATHER_TOOL], lambda r: r.choices, {"tool_choice": "none"}),
    "top_logprobs": (2, lambda r: len(r.choices[0].logprobs.content[0].top_logprobs) == 2, {"logprobs": True}),
    "top_p": (0.5, lambda r: r.choices, {"temperature": 1.0}),
    "user": ("user-1", "refused", {}),
    "verbosity": ("low", "refused", {}),
    "web_search_options": ({}, "refused", {}),
}

COMPLETIONS = {
    "model": (None, lambda r: r.model, {}),
    "prompt": (["Hello", "Order 1"], lambda r: len(r.choices) == 2, {}),
    "best_of": (3, lambda r: len(r.choices) == 1 and r.usage.completion_tokens == 9, {"temperature": 1.0}),
    "echo": (True, lambda r: r.choices[0].text.startswith("Hello"), {}),
    "frequency_penalty": (1.5, lambda r: r.choices, {}),
    "logit_bias": ({str(TOKEN): 100}, lambda r: r.choices[0].text == "000", {}),
    "logprobs": (2, lambda r: len(r.choices[0].logprobs.top_logprobs[0]) == 2, {}),
    "max_tokens": (2, lambda r: r.usage.completion_tokens == 2, {}),
    "n": (2, lambda r: len(r.choices) == 2, {}),
    "presence_penalty": (1.5, lambda r: r.choices, {}),
    "seed": (7, lambda r: r.choices, {"temperature": 1.0}),
    "stop": (["\n"], lambda r: "\n" not in r.choices[0].text, {}),
    "stream": (True, None, {}),
    "stream_options": ({"include_usage": True}, None, {"stream": True}),
    "suffix": (" the end.", "refused", {}),
    "temperature": (0.0, lambda r: r.choices, {}),
    "top_p": (0.5, lambda r: r.choices, {"temperature": 1.0}),
    "user": ("user-1", "refused", {}),
}


def _sdk_parameters(create) -> set[str]:
    return set(inspect.signature(create).parameters) - CLIENT_SIDE


@pytest.mark.parametrize("create, table", [(ChatCompletions.create, CHAT), (Completions.create, COMPLETIONS)])
def test_every_sdk_parameter_is_classified(create, table):
    assert _sdk_parameters(create) == set(table), "classify the new or removed parameters above"


def _call(client, chat: bool, model: str, name: str, value, extra: dict):
    base = {"model": model, "max_tokens": 3, "temperature": 0}
    base.update({"messages": ASK} if chat else {"prompt": "Hello"})
    kwargs = {k: v for k, v in {**base, **extra, **({name: value} if value is not None else {})}.items()
              if v is not None}
    create = client.chat.completions.create if chat else client.completions.create
    return create(**kwargs)


@pytest.mark.parametrize("chat, name", [(True, n) for n in CHAT] + [(False, n) for n in COMPLETIONS])
def test_each_parameter_is_honoured_or_refused_by_name(server, lively_lm_dir, chat, name):
    client, _, _ = server
    value, outcome, extra = (CHAT if chat else COMPLETIONS)[name]
    if outcome == "refused":
        with pytest.raises(openai.BadRequestError) as err:
            _call(client, chat, lively_lm_dir.name, name, value, extra)
        assert err.value.body["param"] == name and err.value.body["code"] == "unsupported_parameter"
        assert name in err.value.body["message"]
        return
    reply = _call(client, chat, lively_lm_dir.name, name, value, extra)
    if outcome is None:  # a stream: it must run to a finish
        reasons = [c.choices[0].finish_reason for c in reply if c.choices]
        assert reasons[-1] in ("stop", "length")
    else:
        assert outcome(reply), reply


@pytest.mark.parametrize("chat", [True, False])
def test_unknown_parameters_are_refused_by_name(server, lively_lm_dir, chat):
    client, _, _ = server
    with pytest.raises(openai.BadRequestError) as err:
        _call(client, chat, lively_lm_dir.name, "max_tokens", 2, {"extra_body": {"frobnicate": 1}})
    assert err.value.body["param"] == "frobnicate"
    assert err.value.body["message"] == "Unrecognized request argument supplied: frobnicate"


def test_service_tier_default_is_honoured(server, lively_lm_dir):
    client, _, _ = server
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=ASK, max_tokens=2,
                                           service_tier="auto")
    assert reply.service_tier == "default"


def test_logits_adjustments():
    """logit_bias, then OpenAI's penalties: logit - presence * (count > 0) - frequency * count."""
    import torch

    from tunesmith.serve.sampling import SamplingParams, adjusted_logits

    logits = torch.zeros(6)
    params = SamplingParams(4, logit_bias=((1, 5.0), (9, 3.0)), presence_penalty=0.5, frequency_penalty=0.25)
    out = adjusted_logits(logits, params, [2, 2, 3])
    assert out.tolist() == [0.0, 5.0, -0.5 - 0.5, -0.5 - 0.25, 0.0, 0.0]
    assert logits.tolist() == [0.0] * 6, "the raw logits (for logprobs) are left alone"
    assert adjusted_logits(logits, SamplingParams(4), [1]) is logits
