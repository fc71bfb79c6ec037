import json

import torch
from train_helpers import chat_records, tiny_config

from tunesmith.train import load_run, run_training


def test_chat_run_folder_and_reload(tiny_lm_dir, tmp_path):
    config = tiny_config(tiny_lm_dir, "lora", epochs=3)
    result = run_training(config, chat_records(24), chat_records(8, seed=3), tmp_path / "run", dataset_version="v1")
    run = tmp_path / "run"
    for name in ("config.yaml", "run.json", "metrics.jsonl", "loss.png", "README.md", "adapter/adapter_config.json",
                 "adapter/adapter_model.safetensors", "tokenizer/tokenizer.json"):
        assert (run / name).exists(), name
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["method"] == "lora" and info["dataset_version"] == "v1"
    assert 0 < info["trainable_params"] < info["total_params"]
    assert info["steps"] == 18 and info["tokens"] > 0 and 0 <= info["padding_share"] < 0.5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["lr"] > 0 and r["tokens_per_second"] > 0 for r in rows if r["split"] == "train")
    assert [r["step"] for r in rows if r["split"] == "validation"] == [4, 8, 12, 16, 18]
    train_losses = [r["train_loss"] for r in rows if r["split"] == "train"]
    assert train_losses[-1] < train_losses[0]
    assert result.metrics["val_loss"] == info["final_val_loss"] and not result.stopped_early
    assert "v1" in (run / "README.md").read_text()

    loaded = load_run(run)
    assert loaded.task == "chat" and not loaded.model.training
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    # An independent load with plain PEFT must agree with tunesmith's (merged) load.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_lm_dir), run / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, plain(input_ids=ids).logits, atol=1e-4, rtol=1e-4)
