"""The llama.cpp backend (optional extra): GGUF exports behind the same OpenAI-compatible routes."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="the llamacpp extra is optional (pip install 'tunesmith[llamacpp]')")

ASK = [{"role": "user", "content": "Where is my parcel?"}]


@pytest.fixture(scope="module")
def gguf_dir(lively_lm_dir, tmp_path_factory):
    from tunesmith.deploy.gguf_writer import write_gguf
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    folder = tmp_path_factory.mktemp("gguf") / "bot-gguf"
    folder.mkdir()
    tokenizer = load_tokenizer(lively_lm_dir)
    write_gguf(load_causal_lm(lively_lm_dir), tokenizer, folder / "model.gguf", "f32")
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def client(gguf_dir):
    import openai

    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import serve_in_thread
    from tunesmith.serve.llamacpp import create_llamacpp_app

    app = create_llamacpp_app([gguf_dir], ServeConfig(api_keys=["k"], threads=1))
    with serve_in_thread(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)


def _streamed(client, **kwargs) -> str:
    chunks = client.chat.completions.create(model="bot-gguf", messages=ASK, stream=True, **kwargs)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_gguf_export_is_served_greedily_like_llama_cpp_itself(gguf_dir, client):
    import openai

    from tunesmith.deploy.gguf_runtime import llama_cpp_runtime
    from tunesmith.models.loading import load_tokenizer

    expected = llama_cpp_runtime(gguf_dir / "model.gguf", load_tokenizer(gguf_dir), 8)([ASK])[0].text
    assert [m.id for m in client.models.list().data] == ["bot-gguf"]
    reply = client.chat.completions.create(model="bot-gguf", messages=ASK, max_tokens=8, temperature=0)
    assert reply.choices[0].message.content.strip() == expected
    assert _streamed(client, max_tokens=8, temperature=0).strip() == expected
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="bot-gguf", messages=ASK, max_tokens=0)


def test_token_counts_stop_strings_and_seeds(client):
    full = client.chat.completions.create(model="bot-gguf", messages=ASK, max_tokens=24, temperature=0)
    text = full.choices[0].message.content
    if full.choices[0].finish_reason == "length":
        assert full.usage.completion_tokens == 24
    stop = text[len(text) // 2:len(text) // 2 + 3]
    assert len(stop.strip()) == 3, f"the tiny model's answer is too short to pick a stop string: {text!r}"
    cut = client.chat.completions.create(model="bot-gguf", messages=ASK, max_tokens=24, temperature=0, stop=[stop])
    assert cut.choices[0].message.content == text[:text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    assert _streamed(client, max_tokens=24, temperature=0, stop=[stop]) == text[:text.index(stop)]
    sampled = [client.chat.completions.create(model="bot-gguf", messages=ASK, max_tokens=16, temperature=1.0,
                                              seed=seed).choices[0].message.content for seed in (7, 7, 8)]
    assert sampled[0] == sampled[1]


def test_a_cancelled_request_stops_decoding(gguf_dir):
    from tunesmith.serve.batch import Delta, Sequence
    from tunesmith.serve.llamacpp import GGUFRegistry, LlamaCppEngine
    from tunesmith.serve.sampling import SamplingParams

    registry = GGUFRegistry([gguf_dir], threads=1)
    engine = LlamaCppEngine(registry, 1, 0, 4)
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, Delta):
            seq.cancelled = True  # the client went away after its first words

    prompt = registry.tokenizer("bot-gguf")("Hello there", add_special_tokens=False)["input_ids"]
    seq = Sequence("bot-gguf", prompt, SamplingParams(max_tokens=200), sink)
    engine._run(registry.acquire("bot-gguf"), seq)
    assert 1 <= engine.stats.completion_tokens < 20
    assert all(isinstance(event, Delta) for event in events)  # no Finished for a client that left
