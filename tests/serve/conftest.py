"""Fixtures for the server: a tiny LM whose greedy answers differ per prompt, LoRA adapters on it,
and a running server on loopback with the real `openai` client."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
from sdk_shapes import TOOL_ASK, WEATHER_TOOL


def lively_tiny_lm(seed: int = 1):
    from tunesmith.models.tiny import lively_causal_lm

    return lively_causal_lm(seed)


@pytest.fixture(scope="session")
def lively_lm_dir(tmp_path_factory):
    model, tokenizer = lively_tiny_lm()
    folder = tmp_path_factory.mktemp("lively-lm")
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def save_lora(base_dir, folder, seed: int):
    """A LoRA adapter with random (non-zero) weights, saved in PEFT format against `base_dir`."""
    from peft import LoraConfig, get_peft_model

    from tunesmith.models.loading import load_causal_lm

    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False)
    model = get_peft_model(load_causal_lm(str(base_dir)), config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.mul_(3.0)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def adapter_dirs(lively_lm_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return [save_lora(lively_lm_dir, root / f"support-bot-{i}", seed=10 + i) for i in range(3)]


@pytest.fixture(scope="session")
def served_models(tiny_lm_dir, tiny_encoder_dir, tmp_path_factory):
    """What the assembly tests serve: a finished 1-step LoRA run on the tiny LM (`run`), a classifier folder
    (`classifier`, id intent-cls), a GGUF export folder whose model file is never opened (`gguf`), `lm`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunesmith.config import parse_config
    from tunesmith.train import run_training

    root = tmp_path_factory.mktemp("served-models")
    chats = [{"id": f"c{i}", "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant",
                                                                                 "content": f"a{i}"}]}
             for i in range(4)]
    config = parse_config({"model": {"name": str(tiny_lm_dir), "max_length": 96},
                           "method": {"name": "lora", "r": 2, "alpha": 4},
                           "training": {"max_steps": 1, "batch_size": 2, "eval_every": 100, "num_threads": 1}})
    run_training(config, chats, chats[:2], root / "chat-lora")
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_encoder_dir, num_labels=2, id2label={0: "billing", 1: "technical"},
        label2id={"billing": 0, "technical": 1})
    model.save_pretrained(root / "intent-cls", safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(root / "intent-cls")
    AutoTokenizer.from_pretrained(tiny_lm_dir).save_pretrained(root / "bot-gguf")
    (root / "bot-gguf" / "model.gguf").write_bytes(b"GGUF")
    return {"run": root / "chat-lora", "classifier": root / "intent-cls", "gguf": root / "bot-gguf",
            "lm": tiny_lm_dir}


@contextmanager
def running(models, **config):
    import openai

    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import create_app, serve_in_thread

    app = create_app([str(m) for m in models], ServeConfig(**config))
    with serve_in_thread(app) as url:
        key = (config.get("api_keys") or ["unused"])[0]
        yield openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60), url, app


@pytest.fixture(scope="session")
def start_server():
    """`with start_server(models, **serve_config) as (client, url, app)`."""
    return running


@pytest.fixture(scope="module")
def server(lively_lm_dir):
    with running([lively_lm_dir], api_keys=["sk-test-1"], max_tokens_limit=64, max_body_bytes=32_768) as handle:
        yield handle


@pytest.fixture(scope="session")
def tool_caller_dir(tmp_path_factory):
    """The lively tiny LM taught (a few steps, on one prompt) to open a `<tool_call>` block when offered the
    weather tool: with `tool_choice: auto` it calls the tool of its own accord; the grammar does the rest."""
    from tunesmith.tools import OPEN, parse_tools, render

    model, tokenizer = lively_tiny_lm(seed=3)
    prompt = tokenizer(render(tokenizer, TOOL_ASK, parse_tools([WEATHER_TOOL])), add_special_tokens=False)["input_ids"]
    target = tokenizer(OPEN + "\n", add_special_tokens=False)["input_ids"]
    ids, labels = torch.tensor([prompt + target]), torch.tensor([[-100] * len(prompt) + target])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if loss.item() < 0.05:
            break
    folder = tmp_path_factory.mktemp("tool-caller")
    model.eval().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
