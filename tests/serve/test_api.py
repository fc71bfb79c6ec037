"""The server through the real `openai` client on loopback: routes, streaming, auth and validation."""

from __future__ import annotations

import httpx
import openai
import pytest

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my parcel?"}]


def _reference(model_dir, messages, max_tokens, hf_greedy):
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm(str(model_dir)), load_tokenizer(str(model_dir))
    return hf_greedy(model, tokenizer, [messages], max_new_tokens=max_tokens)[0]


def test_models_list_names_the_served_model(server, lively_lm_dir):
    client, _, _ = server
    assert [m.id for m in client.models.list().data] == [lively_lm_dir.name]


def test_chat_greedy_matches_plain_generate(server, lively_lm_dir, hf_greedy):
    client, _, _ = server
    reply = client.chat.completions.create(model=lively_lm_dir.name, messages=CHAT, max_tokens=12, temperature=0)
    expected = _reference(lively_lm_dir, CHAT, 12, hf_greedy)
    assert reply.choices[0].message.content.strip() == expected.text
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.prompt_tokens == expected.prompt_tokens
    assert reply.usage.completion_tokens == 12


def test_streaming_yields_the_same_text_as_non_streaming(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": CHAT, "max_tokens": 10, "temperature": 0}
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1, "tokens should arrive as separate events"
    assert "".join(pieces) == whole
    assert chunks[-1].usage.completion_tokens == 10
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def test_completions_with_seed_are_reproducible_and_stop_is_honoured(server, lively_lm_dir):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "prompt": "Order 1234 is", "max_tokens": 8, "temperature": 0.9,
              "top_p": 0.9, "seed": 7}
    first, second = (client.completions.create(**kwargs).choices[0].text for _ in range(2))
    assert first == second
    other = client.completions.create(**{**kwargs, "seed": 8}).choices[0].text
    assert other != first
    greedy = client.completions.create(model=lively_lm_dir.name, prompt="Order 1234 is", max_tokens=8,
                                       temperature=0).choices[0].text
    stop = greedy.strip()[3:6]
    cut = client.completions.create(model=lively_lm_dir.name, prompt="Order 1234 is", max_tokens=8,
                                    temperature=0, stop=[stop])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == greedy[: greedy.index(stop)]


def test_streamed_completion_never_shows_the_stop_string(server, lively_lm_dir):
    client, _, _ = server
    greedy = client.completions.create(model=lively_lm_dir.name, prompt="Hello", max_tokens=10,
                                       temperature=0).choices[0].text
    stop = greedy.strip()[4:8]
    chunks = list(client.completions.create(model=lively_lm_dir.name, prompt="Hello", max_tokens=10,
                                            temperature=0, stop=stop, stream=True))
    text = "".join(c.choices[0].text for c in chunks)
    assert text == greedy[: greedy.index(stop)]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_wrong_or_missing_key_is_401_but_health_is_open(server, lively_lm_dir):
    _, url, _ = server
    bad = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_api_key"
    assert httpx.get(f"{url}/v1/models").status_code == 401
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


@pytest.mark.parametrize("change, fragment", [
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 65}, "at most 64"),
    ({"messages": []}, "messages"),
    ({"temperature": 3}, "temperature"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
    ({"messages": [{"role": "user", "content": "word " * 3000}]}, "maximum context length"),
])
def test_invalid_requests_are_400_with_openai_error_body(server, lively_lm_dir, change, fragment):
    client, _, _ = server
    kwargs = {"model": lively_lm_dir.name, "messages": CHAT, "max_tokens": 4, **change}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**kwargs)
    assert err.value.status_code == 400
    assert fragment in err.value.body["message"]
    assert err.value.body["type"] == "invalid_request_error"


def test_unknown_model_is_404(server):
    client, _, _ = server
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=CHAT, max_tokens=2)
    assert err.value.body["code"] == "model_not_found"


def test_malformed_json_is_400_and_oversized_body_is_413(server):
    _, url, _ = server
    headers = {"Authorization": "Bearer sk-test-1", "Content-Type": "application/json"}
    broken = httpx.post(f"{url}/v1/chat/completions", content=b'{"model": "x", "messages": [', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
    huge = httpx.post(f"{url}/v1/chat/completions", content=b"{" + b" " * 40_000 + b"}", headers=headers)
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "request_too_large"
    chunked = httpx.post(f"{url}/v1/chat/completions", content=(b" " * 1000 for _ in range(40)), headers=headers)
    assert chunked.status_code == 413, "bodies without Content-Length are counted while they arrive"


def test_metrics_count_requests_and_tokens(server, lively_lm_dir):
    client, url, _ = server
    client.completions.create(model=lively_lm_dir.name, prompt="Hi", max_tokens=3, temperature=0)
    text = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer sk-test-1"}).text
    assert 'tunesmith_http_requests_total{route="/v1/completions",status="200"}' in text
    generated = [line for line in text.splitlines() if line.startswith("tunesmith_generated_tokens_total")]
    assert generated and float(generated[0].split()[-1]) >= 3


def test_rate_limit_per_key_is_429_with_retry_after(lively_lm_dir, start_server):
    with start_server([lively_lm_dir], api_keys=["sk-a", "sk-b"], rate_limit_per_minute=6, rate_limit_burst=2) as (
            client, url, _):
        client.models.list()
        client.models.list()
        with pytest.raises(openai.RateLimitError) as err:
            client.models.list()
        assert int(err.value.response.headers["retry-after"]) >= 1
        other = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-b", max_retries=0)
        assert other.models.list().data, "limits are per key"


def test_full_queue_is_429_and_never_5xx(lively_lm_dir, start_server):
    import concurrent.futures

    with start_server([lively_lm_dir], max_queue=1, max_batch_size=1, batch_window_ms=0) as (client, _, _):
        def ask(i):
            try:
                client.completions.create(model=lively_lm_dir.name, prompt=f"Order {i}", max_tokens=60,
                                          temperature=0)
                return 200
            except openai.APIStatusError as err:
                assert err.status_code != 429 or err.response.headers.get("retry-after") == "1"
                return err.status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(ask, range(8)))
    assert 429 in statuses and 200 in statuses
    assert set(statuses) <= {200, 429}


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": None}]},
    {"messages": "hello"},
    {"max_tokens": "many"},
    {"stop": ["a", "b", "c", "d", "e"]},
    {"n": 0},
    {"top_p": 0},
])
def test_malformed_fields_are_400_not_500(server, lively_lm_dir, body):
    _, url, _ = server
    payload = {"model": lively_lm_dir.name, "messages": CHAT, "max_tokens": 2, **body}
    response = httpx.post(f"{url}/v1/chat/completions", json=payload, headers={"Authorization": "Bearer sk-test-1"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
