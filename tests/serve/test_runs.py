"""Serving real run folders: a LoRA chat run (on a shared base) and a classifier run."""

from __future__ import annotations

import httpx
import pytest

from tunesmith.config import parse_config

TRAINING = {"epochs": 1, "batch_size": 4, "eval_every": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0,
            "num_threads": 1}


@pytest.fixture(scope="module")
def runs(lively_lm_dir, tiny_encoder_dir, tmp_path_factory):
    from tunesmith.train import run_training

    root = tmp_path_factory.mktemp("served-project") / "runs"
    chat = [{"id": f"c{i}", "messages": [{"role": "user", "content": f"Track parcel {i}"},
                                         {"role": "assistant", "content": f"Parcel {i} ships today."}]}
            for i in range(12)]
    lora = parse_config({"model": {"name": str(lively_lm_dir), "max_length": 48}, "training": TRAINING,
                         "method": {"name": "lora", "r": 4, "alpha": 8, "dropout": 0.0}})
    run_training(lora, chat, chat[:4], root / "support-lora")
    texts = [("refund my order please", "billing"), ("the app crashes on start", "technical"),
             ("charged twice this month", "billing"), ("login button does nothing", "technical")] * 3
    records = [{"id": f"t{i}", "text": t, "label": label} for i, (t, label) in enumerate(texts)]
    classifier = parse_config({"objective": {"task": "classification"}, "training": TRAINING,
                               "model": {"name": str(tiny_encoder_dir), "max_length": 32}})
    run_training(classifier, records, records[:4], root / "intent-cls")
    prompt = parse_config({"model": {"name": str(lively_lm_dir), "max_length": 48}, "training": TRAINING,
                           "method": {"name": "prompt", "num_virtual_tokens": 4}})
    run_training(prompt, chat, chat[:4], root / "support-prompt")
    return root / "support-lora", root / "intent-cls", root / "support-prompt"


def test_lora_run_and_classifier_run_are_served_like_load_run(runs, lively_lm_dir, start_server, hf_greedy):
    from tunesmith.train import load_run

    lora_dir, classifier_dir, _ = runs
    ask = [{"role": "user", "content": "Track parcel 3"}]
    trained = load_run(lora_dir)
    expected = hf_greedy(trained.model, trained.tokenizer, [ask], max_new_tokens=8)[0].text
    classifier = load_run(classifier_dir)
    with start_server([lora_dir, classifier_dir], api_keys=["k"]) as (client, url, _):
        ids = {m.id: m.kind for m in client.models.list().data}
        assert ids == {"support-lora": "adapter", lively_lm_dir.name: "base", "intent-cls": "classifier"}
        reply = client.chat.completions.create(model="support-lora", messages=ask, max_tokens=8, temperature=0)
        assert reply.choices[0].message.content.strip() == expected
        texts = ["I was charged twice", "the app crashes"]
        body = httpx.post(f"{url}/v1/classifications", json={"model": "intent-cls", "input": texts},
                          headers={"Authorization": "Bearer k"}, timeout=60).json()
        import torch

        with torch.inference_mode():
            logits = classifier.model(**classifier.tokenizer(texts, return_tensors="pt", padding=True)).logits
        assert [row["label"] for row in body["data"]] == [classifier.labels[int(i)] for i in logits.argmax(-1)]
        assert all(abs(sum(row["scores"].values()) - 1) < 1e-4 for row in body["data"])
        wrong = httpx.post(f"{url}/v1/classifications", json={"model": "support-lora", "input": "x"},
                           headers={"Authorization": "Bearer k"})
        assert wrong.status_code == 400 and "not a classifier" in wrong.json()["error"]["message"]
        chat_on_classifier = httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": "Bearer k"},
                                        json={"model": "intent-cls", "messages": ask})
        assert chat_on_classifier.status_code == 400


def test_prompt_tuning_run_is_served_through_generate(runs, start_server, hf_greedy):
    from tunesmith.train import load_run

    prompt_dir = runs[2]
    ask = [{"role": "user", "content": "Track parcel 5"}]
    trained = load_run(prompt_dir)
    expected = hf_greedy(trained.model, trained.tokenizer, [ask], max_new_tokens=6)[0].text
    with start_server([prompt_dir]) as (client, _, _):
        reply = client.chat.completions.create(model=prompt_dir.name, messages=ask, max_tokens=6, temperature=0)
        assert reply.choices[0].message.content.strip() == expected
        streamed = client.chat.completions.create(model=prompt_dir.name, messages=ask, max_tokens=6, temperature=0,
                                                  stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).strip() == expected
        with_logprobs = client.chat.completions.create(model=prompt_dir.name, messages=ask, max_tokens=6,
                                                       temperature=0, logprobs=True, top_logprobs=2)
        content = with_logprobs.choices[0].logprobs.content
        assert "".join(entry.token for entry in content) == with_logprobs.choices[0].message.content
        assert len(content) == with_logprobs.usage.completion_tokens
        assert all(abs(entry.logprob - entry.top_logprobs[0].logprob) < 1e-6 for entry in content)  # greedy
