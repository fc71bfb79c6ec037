"""The bundled SmolLM2 fine-tuned for a few steps: merged and GGUF exports pass parity."""

from __future__ import annotations

import pytest

from tunesmith.config import parse_config
from tunesmith.config.serve import ExportConfig
from tunesmith.deploy import export


@pytest.mark.slow
def test_real_smollm2_run_merged_and_gguf_exports_pass_parity(tmp_path):
    from tunesmith.train import run_training

    records = [{"id": f"r{i}", "messages": [
        {"role": "user", "content": f"Where is order {1000 + i}?"},
        {"role": "assistant", "content": f"Order {1000 + i} left the warehouse and arrives in {2 + i % 3} days."}]}
        for i in range(16)]
    config = parse_config({"model": {"name": "smollm2-135m-instruct", "max_length": 64},
                           "method": {"name": "lora", "r": 8, "alpha": 16, "dropout": 0.0},
                           "training": {"max_steps": 4, "batch_size": 4, "learning_rate": 2e-4, "eval_every": 4,
                                        "warmup_ratio": 0.0}})
    run_dir = tmp_path / "runs" / "smollm2-lora"
    run_training(config, records, records[:4], run_dir)
    settings = ExportConfig(parity_max_new_tokens=24, gguf_type="f32")
    held_out = [[{"role": "user", "content": f"Where is order {2000 + i}?"}] for i in range(6)]
    merged = export(run_dir, "hf", folder=tmp_path / "hf", settings=settings, prompts=held_out)
    assert merged.parity["passed"] and merged.parity["exact_match_rate"] == 1.0
    gguf = export(run_dir, "gguf", folder=tmp_path / "gguf", settings=settings, prompts=held_out)
    assert gguf.parity["passed"] and gguf.parity["prompt_token_match_rate"] == 1.0
    assert gguf.parity["exact_match_rate"] >= settings.parity_threshold
    quantized = export(run_dir, "gguf", folder=tmp_path / "q8", prompts=held_out,
                       settings=settings.model_copy(update={"gguf_type": "q8_0"}))
    report = quantized.parity
    assert report["passed"] and report["threshold"] == settings.quantized_parity_threshold
    assert report["gate"] == "next_token_agreement" and report["next_token_agreement"] >= report["threshold"]
    print(f"q8_0: exact {report['exact_match_rate']:.2f}, first divergence {report['mean_first_divergence']}, "
          f"agreement {report['next_token_agreement']}, gguf runtime {report['runtime']}")
