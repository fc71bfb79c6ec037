"""The llama.cpp backend (optional extra): GGUF exports behind the same OpenAI-compatible routes."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="the llamacpp extra is optional (pip install 'tunesmith[llamacpp]')")


def test_gguf_export_is_served_greedily_like_llama_cpp_itself(lively_lm_dir, tmp_path):
    import openai

    from tunesmith.config.serve import ServeConfig
    from tunesmith.deploy.gguf_runtime import llama_cpp_runtime
    from tunesmith.deploy.gguf_writer import write_gguf
    from tunesmith.models.loading import load_causal_lm, load_tokenizer
    from tunesmith.serve import serve_in_thread
    from tunesmith.serve.llamacpp import create_llamacpp_app

    folder = tmp_path / "bot-gguf"
    folder.mkdir()
    tokenizer = load_tokenizer(lively_lm_dir)
    write_gguf(load_causal_lm(lively_lm_dir), tokenizer, folder / "model.gguf", "f32")
    tokenizer.save_pretrained(folder)
    ask = [{"role": "user", "content": "Where is my parcel?"}]
    expected = llama_cpp_runtime(folder / "model.gguf", tokenizer, 8)([ask])[0].text
    app = create_llamacpp_app([folder], ServeConfig(api_keys=["k"], threads=1))
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["bot-gguf"]
        reply = client.chat.completions.create(model="bot-gguf", messages=ask, max_tokens=8, temperature=0)
        assert reply.choices[0].message.content.strip() == expected
        chunks = client.chat.completions.create(model="bot-gguf", messages=ask, max_tokens=8, temperature=0,
                                                stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == expected
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="bot-gguf", messages=ask, max_tokens=0)
