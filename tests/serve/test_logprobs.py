"""`logprobs` / `top_logprobs`: the model's log-probabilities of the answer tokens, in OpenAI's shapes, whole and
streamed; refused with a 400 naming the parameter where they cannot be honoured."""

from __future__ import annotations

import math

import httpx
import pytest
import torch

ASK = [{"role": "user", "content": "Where is my parcel?"}]


def _greedy_reference(model_dir, steps: int):
    """Greedy tokens and the log-softmax at each step, by hand with the plain model."""
    from tunesmith.inference import render_prompt
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm(str(model_dir)).eval(), load_tokenizer(str(model_dir))
    ids = tokenizer(render_prompt(tokenizer, ASK), add_special_tokens=False)["input_ids"]
    tokens, rows = [], []
    with torch.inference_mode():
        for _ in range(steps):
            logprobs = torch.log_softmax(model(torch.tensor([ids + tokens])).logits[0, -1].float(), -1)
            tokens.append(int(logprobs.argmax()))
            rows.append(logprobs)
    return tokens, rows, tokenizer


def test_chat_logprobs_are_the_models_own(server, lively_lm_dir):
    client, _, _ = server
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=ASK, max_tokens=6, temperature=0,
                                           logprobs=True, top_logprobs=3)
    choice = reply.choices[0]
    tokens, rows, tokenizer = _greedy_reference(lively_lm_dir, 6)
    content = choice.logprobs.content
    assert choice.finish_reason == "length" and len(content) == reply.usage.completion_tokens == 6
    assert "".join(entry.token for entry in content) == choice.message.content
    for entry, token, row in zip(content, tokens, rows, strict=True):
        assert entry.token == tokenizer.decode([token])
        assert math.isclose(entry.logprob, float(row[token]), abs_tol=1e-3)
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0].token == entry.token  # greedy: the best
        best = torch.topk(row, 3).values.tolist()
        assert [round(t.logprob, 3) for t in entry.top_logprobs] == [round(v, 3) for v in best]
        assert bytes(entry.bytes).decode("utf-8", "replace") == entry.token


def test_streamed_logprobs_add_up_to_the_whole_answers(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": ASK, "max_tokens": 8, "temperature": 0.9, "seed": 3,
              "logprobs": True, "top_logprobs": 2}
    whole = client.chat.completions.create(**kwargs).choices[0].logprobs.content
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    streamed = [entry for c in chunks if c.choices and c.choices[0].logprobs for entry in c.choices[0].logprobs.content]
    assert [(e.token, round(e.logprob, 4)) for e in streamed] == [(e.token, round(e.logprob, 4)) for e in whole]
    assert all(e.logprob <= e.top_logprobs[0].logprob + 1e-6 for e in whole), "sampled tokens are not all the best"


def test_completion_logprobs_in_the_legacy_shape(server, lively_lm_dir):
    client, _, _ = server
    reply = client.completions.create(model=lively_lm_dir.name, prompt="Order 1234 is", max_tokens=5,
                                      temperature=0, logprobs=2)
    choice = reply.choices[0]
    logprobs = choice.logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == 5
    assert "".join(logprobs.tokens) == choice.text
    assert logprobs.text_offset == [sum(len(t) for t in logprobs.tokens[:i]) for i in range(5)]
    for token, logprob, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True):
        assert len(top) == 2 and math.isclose(max(top.values()), logprob, abs_tol=1e-6) and token in top
    streamed = list(client.completions.create(model=lively_lm_dir.name, prompt="Order 1234 is", max_tokens=5,
                                              temperature=0, logprobs=2, stream=True))
    tokens = [t for c in streamed if c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
    offsets = [o for c in streamed if c.choices[0].logprobs for o in c.choices[0].logprobs.text_offset]
    assert tokens == logprobs.tokens and offsets == logprobs.text_offset


def test_no_logprobs_unless_asked(server, lively_lm_dir):
    client, _, _ = server
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=ASK, max_tokens=2)
    assert reply.choices[0].logprobs is None


@pytest.mark.parametrize(("path", "extra", "param"), [
    ("/v1/chat/completions", {"top_logprobs": 2}, "top_logprobs"),
    ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ("/v1/completions", {"logprobs": 6}, "logprobs"),
    ("/v1/completions", {"logprobs": True}, "logprobs"),
    ("/v1/completions", {"echo": True, "logprobs": 1}, "echo"),
])
def test_logprob_requests_out_of_range_are_400s_naming_the_parameter(server, lively_lm_dir, path, extra, param):
    _, url, _ = server
    body = {"messages": ASK} if "chat" in path else {"prompt": "hi"}
    reply = httpx.post(f"{url}{path}", headers={"Authorization": "Bearer sk-test-1"},
                       json={"model": lively_lm_dir.name, "max_tokens": 2, **body, **extra})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param


def test_a_backend_without_logprobs_refuses_them(lively_lm_dir):
    from fastapi.testclient import TestClient

    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import ModelRegistry, create_app
    from tunesmith.serve.llamacpp import LlamaCppEngine

    registry = ModelRegistry.from_paths([lively_lm_dir])
    app = create_app(registry, ServeConfig(backend="llamacpp"), engine=LlamaCppEngine(registry, 1, 0, 4))
    with TestClient(app) as client:
        for path, body in [("/v1/chat/completions", {"messages": ASK, "logprobs": True}),
                           ("/v1/completions", {"prompt": "hi", "logprobs": 0})]:
            reply = client.post(path, json={"model": lively_lm_dir.name, "max_tokens": 2, **body})
            assert reply.status_code == 400 and reply.json()["error"]["param"] == "logprobs"
            assert "llamacpp" in reply.json()["error"]["message"]
