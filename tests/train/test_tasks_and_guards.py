"""Classification and raw-text runs end to end; early stopping restores the best checkpoint."""

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import chat_records, classification_records, text_records, tiny_config

from tunesmith.train import load_run, run_training


@pytest.mark.parametrize("which", ["encoder", "decoder"])
def test_classification_run(which, tiny_encoder_dir, tiny_lm_dir, tmp_path):
    model_dir = tiny_encoder_dir if which == "encoder" else tiny_lm_dir
    config = tiny_config(model_dir, "lora", "classification", epochs=3, learning_rate=2e-2)
    result = run_training(config, classification_records(24), classification_records(8), tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["labels"] == ["neg", "pos"] and info["task"] == "classification"
    assert 0 <= result.metrics["val_accuracy"] <= 1
    loaded = load_run(tmp_path / "run")
    assert loaded.labels == ["neg", "pos"]
    enc = loaded.tokenizer(["great lovely fine", "awful bad sad"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = loaded.model(**{k: v for k, v in enc.items() if k != "token_type_ids"}).logits
    assert logits.shape == (2, 2)


def test_text_run_and_full_fine_tune(tiny_lm_dir, tmp_path):
    config = tiny_config(tiny_lm_dir, "full", "text", epochs=2, learning_rate=1e-3)
    result = run_training(config, text_records(12), text_records(4), tmp_path / "run")
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in rows if r["split"] == "train"]
    assert losses[-1] < losses[0] and result.status == "completed"


def test_early_stopping_restores_best_checkpoint(tiny_lm_dir, tmp_path):
    # A far too high learning rate makes validation loss bounce, so patience 1 triggers.
    config = tiny_config(tiny_lm_dir, "lora", epochs=20, eval_every=1, learning_rate=0.5,
                         early_stopping_patience=1, keep_checkpoints=1)
    run_dir = tmp_path / "run"
    result = run_training(config, chat_records(8), chat_records(4, seed=4), run_dir)
    assert result.stopped_early
    info = json.loads((run_dir / "run.json").read_text())
    vals = {r["step"]: r["val_loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
            if r["split"] == "validation"}
    best = min(vals, key=vals.get)
    assert info["best_step"] == best == info["restored_step"] and info["steps"] > best
    assert result.metrics["val_loss"] == pytest.approx(vals[best])
    # The saved adapter is the best step's weights, and that checkpoint survived pruning.
    saved = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    checkpoint = load_file(str(run_dir / "checkpoints" / f"step-{best}" / "trainable.safetensors"))
    for name, value in checkpoint.items():
        key = name.replace(".default", "")
        assert torch.equal(saved[key], value), name


def test_gradient_checkpointing_and_adafactor_give_the_same_training(tiny_lm_dir, tmp_path):
    def adapter(name: str, **options):
        config = tiny_config(tiny_lm_dir, "lora", max_steps=3, eval_every=3, optimizer="adafactor", **options)
        run_training(config, chat_records(12), chat_records(4), tmp_path / name)
        return load_file(str(tmp_path / name / "adapter" / "adapter_model.safetensors"))

    plain = adapter("plain", gradient_checkpointing=False)
    recomputed = adapter("checkpointed", gradient_checkpointing=True)
    for name in plain:
        torch.testing.assert_close(plain[name], recomputed[name], atol=1e-5, rtol=1e-4)
