"""A real (tiny) fine-tuned run folder to export: LoRA on a tiny Llama whose answers vary per prompt."""

from __future__ import annotations

import pytest

from tunesmith.config import parse_config


def _chat_records(n: int, seed: int = 0) -> list[dict]:
    colours = ["red", "blue", "green", "gold", "black", "white", "pink", "gray"]
    return [{"id": f"c{i}", "messages": [
        {"role": "user", "content": f"What colour is parcel {i}?" + " Quickly." * (i % 3)},
        {"role": "assistant", "content": f"Parcel {i} is {colours[(i + seed) % len(colours)]}."}]}
        for i in range(n)]


@pytest.fixture(scope="session")
def lively_base_dir(tmp_path_factory):
    """The tiny Llama with wider random weights, so greedy answers differ per prompt."""
    from tunesmith.models.tiny import lively_causal_lm

    model, tokenizer = lively_causal_lm()
    folder = tmp_path_factory.mktemp("lively-base")
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def lora_run(lively_base_dir, tmp_path_factory):
    from tunesmith.train import run_training

    config = parse_config({
        "model": {"name": str(lively_base_dir), "max_length": 64},
        "method": {"name": "lora", "r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"epochs": 1, "batch_size": 4, "eval_every": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0,
                     "num_threads": 1},
        "serve": {"export": {"parity_prompts": 6, "parity_max_new_tokens": 12}},
    })
    run_dir = tmp_path_factory.mktemp("project") / "runs" / "run-lora"
    run_training(config, _chat_records(16), _chat_records(4, seed=3), run_dir)
    return run_dir
