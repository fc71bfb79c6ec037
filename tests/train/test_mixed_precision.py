"""training.mixed_precision: bf16 computes the training forward (and so its backward) in bfloat16 through the
strategy's autocast, while weights, gradients, optimizer state, validation and the saved model stay float32."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import chat_records, tiny_config

from tunesmith.errors import ConfigError
from tunesmith.objectives.runtime import for_config
from tunesmith.train import run_training
from tunesmith.train.distributed import World
from tunesmith.train.loop import Batches, evaluate, train_step
from tunesmith.train.optim import build_optimizer
from tunesmith.train.setup import prepare_model
from tunesmith.train.sharding import choose


def _dtypes_seen(model) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize(("setting", "trained_in"), [("bf16", torch.bfloat16), ("no", torch.float32)])
def test_the_training_forward_runs_in_the_chosen_dtype_and_validation_in_float32(tiny_lm_dir, setting, trained_in):
    config = tiny_config(tiny_lm_dir, "lora", mixed_precision=setting)
    model, tokenizer, _, _ = prepare_model(config, "chat", None)
    objective, world = for_config(config), World.from_env()
    examples = objective.encode(tokenizer, chat_records(8), "chat", 64, None, False)
    batches = Batches(examples, tokenizer.pad_token_id, False, 4, 1, 0, True, world)
    strategy = choose(config.training, world)
    optimizer = build_optimizer(model, config.training)
    params = [p for p in model.parameters() if p.requires_grad]
    seen = _dtypes_seen(model)
    loss, _ = train_step(model, params, optimizer, batches, batches.epoch(0)[0], "chat", False, 1.0, strategy)
    assert seen and set(seen) == {trained_in} and loss == loss  # (finite: not NaN)
    assert all(p.dtype == torch.float32 and p.grad is None for p in params)  # stepped, zeroed, still float32
    assert all(state["exp_avg"].dtype == torch.float32 for state in optimizer.state.values())
    seen.clear()
    evaluate(model, examples, tokenizer.pad_token_id, "chat", False, 4, world)
    assert seen and set(seen) == {torch.float32}


def test_a_bf16_run_learns_and_saves_float32_weights(tiny_lm_dir, tmp_path):
    config = tiny_config(tiny_lm_dir, "lora", epochs=3, mixed_precision="bf16")
    run_training(config, chat_records(24), chat_records(8, seed=3), tmp_path / "run", dataset_version="v1")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in rows if r["split"] == "train"]
    assert losses[-1] < losses[0]
    weights = load_file(tmp_path / "run" / "adapter" / "adapter_model.safetensors")
    assert weights and all(w.dtype == torch.float32 for w in weights.values())
    assert "mixed_precision: bf16" in (tmp_path / "run" / "config.yaml").read_text()


def test_deepspeed_takes_its_precision_from_its_own_json():
    from tunesmith.config import parse_config

    with pytest.raises(ConfigError, match="DeepSpeed takes its precision from its own JSON"):
        parse_config({"training": {"mixed_precision": "bf16", "distributed": "deepspeed"}})
