"""Preference objectives in the one training loop, on the tiny model."""

from __future__ import annotations

import json

import pytest
import torch
from preference_data import pairs, ratings

from tunesmith.errors import DataError
from tunesmith.evaluate.preference import pair_logps
from tunesmith.models.loading import load_causal_lm, load_tokenizer
from tunesmith.objectives.runtime import attach_reference, collate_pairs, for_config, sequence_logps
from tunesmith.train import load_run
from tunesmith.train.run import run_training
from tunesmith.train.setup import prepare_model


def tiny_preference_config(model_dir, objective: str, method: str = "lora", **training):
    from train_helpers import TINY_OPTIONS

    from tunesmith.config import parse_config
    from tunesmith.config.method import option_names

    options = {"name": method, **{k: v for k, v in TINY_OPTIONS.items() if k in option_names(method)}}
    return parse_config({"model": {"name": str(model_dir), "max_length": 64}, "method": options,
                         "training": {"objective": objective, "epochs": 4, "batch_size": 8, "learning_rate": 1e-2,
                                      "eval_every": 6, "warmup_ratio": 0.0, "num_threads": 1, "restore_best": False,
                                      **training}})


def _accuracy(model, tokenizer, records) -> float:
    scores = pair_logps(model, tokenizer, [r["messages"][:-1] for r in records],
                        [r["messages"][-1]["content"] for r in records], [r["rejected"] for r in records])
    return sum(c > r for c, r in scores) / len(scores)


def test_dpo_raises_held_out_preference_accuracy(tiny_lm_dir, tmp_path):
    held_out = pairs(40, seed=2)
    base = _accuracy(load_causal_lm(tiny_lm_dir), load_tokenizer(tiny_lm_dir), held_out)
    result = run_training(tiny_preference_config(tiny_lm_dir, "dpo"), pairs(48, 0), pairs(16, 1), tmp_path / "run")
    assert result.status == "completed"
    rows = map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
    history = [row for row in rows if row["split"] == "validation"]
    assert history[-1]["val_loss"] < history[0]["val_loss"] and history[-1]["val_reward_margin"] > 0
    run = load_run(tmp_path / "run")
    assert run.info.objective == "dpo"
    trained = _accuracy(run.model, run.tokenizer, held_out)
    assert base <= 0.6 and trained >= 0.9, (base, trained)


@pytest.mark.parametrize(("objective", "options", "data"), [
    ("dpo", {"dpo": {"loss": "ipo", "beta": 0.5}}, "pairs"), ("orpo", {"orpo": {"beta": 1.0}}, "pairs"),
    ("simpo", {}, "pairs"), ("kto", {}, "ratings")])
def test_every_preference_objective_learns_the_rule(tiny_lm_dir, tmp_path, objective, options, data):
    from tunesmith.config import apply_overrides

    make = pairs if data == "pairs" else ratings
    config = tiny_preference_config(tiny_lm_dir, objective, epochs=3, learning_rate=2e-2)
    config = apply_overrides(config, [f"preference.{name}.{k}={v}" for name, o in options.items()
                                      for k, v in o.items()])
    result = run_training(config, make(40, 0), make(16, 1), tmp_path / objective)
    assert result.status == "completed"
    assert result.metrics["val_accuracy"] >= 0.75, result.metrics
    assert result.metrics["val_reward_margin"] > 0


@pytest.mark.parametrize("method", ["lora", "adapter", "prompt", "full"])
def test_reference_is_the_model_training_starts_from(tiny_lm_dir, method):
    """Adapter methods: the base with the adapter off, even once the adapter has moved; whole model: the
    model before its first step. No second copy is made."""
    config = tiny_preference_config(tiny_lm_dir, "dpo", method=method)
    model, tokenizer, spec, _ = prepare_model(config, "chat")
    runtime = for_config(config)
    examples = runtime.encode(tokenizer, pairs(6, 3), "chat", 64)
    batch = collate_pairs(examples, tokenizer.pad_token_id)
    base = load_causal_lm(tiny_lm_dir).eval()
    with torch.no_grad():
        expected, _ = sequence_logps(base, batch, virtual_tokens=False)
        if spec.base_only is not None:  # move the adapter away from its identity start
            for param in model.parameters():
                if param.requires_grad:
                    param.add_(torch.randn_like(param) * 0.5)
            moved, _ = sequence_logps(model.eval(), batch, spec.virtual_tokens)
            assert not torch.allclose(moved, expected, atol=1e-3)
    before = sum(p.numel() for p in model.parameters())
    attach_reference(runtime, model, spec, examples, tokenizer.pad_token_id, torch.device("cpu"), spec.virtual_tokens)
    assert sum(p.numel() for p in model.parameters()) == before
    got = torch.tensor([e.ref for e in examples])
    torch.testing.assert_close(torch.cat([got[:, 0], got[:, 1]]), expected, atol=1e-4, rtol=1e-5)


def test_wrong_data_for_the_objective_is_one_line(tiny_lm_dir, tmp_path):
    from train_helpers import chat_records

    with pytest.raises(DataError, match="trains on pairs but the data also holds demonstrations"):
        run_training(tiny_preference_config(tiny_lm_dir, "dpo"), chat_records(8), [], tmp_path / "a")
    with pytest.raises(DataError, match="trains on ratings but the data also holds pairs"):
        run_training(tiny_preference_config(tiny_lm_dir, "kto"), pairs(8, 0), [], tmp_path / "b")
    with pytest.raises(DataError, match="rated answers only"):
        run_training(tiny_preference_config(tiny_lm_dir, "sft"), ratings(8, 0), [], tmp_path / "c")
    long = pairs(3, 0)
    long[1]["messages"][0]["content"] = "word " * 80
    with pytest.raises(DataError, match=r"1 record\(s\) have a prompt of model.max_length \(64\) tokens or more.*p0-1"):
        run_training(tiny_preference_config(tiny_lm_dir, "dpo"), long, [], tmp_path / "d")


def test_sft_on_pairs_learns_the_chosen_answers(tiny_lm_dir, tmp_path):
    """The same pair file trains SFT (on the chosen side) as the baseline DPO is compared with."""
    result = run_training(tiny_preference_config(tiny_lm_dir, "sft", epochs=1), pairs(16, 0), pairs(8, 1),
                          tmp_path / "sft")
    assert result.status == "completed" and "val_reward_margin" not in result.metrics
