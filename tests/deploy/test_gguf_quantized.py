"""Quantized GGUF export of a tiny run: judged by next-token agreement, and a broken template still fails."""

from __future__ import annotations

import json

import pytest

from tunesmith.config.serve import ExportConfig
from tunesmith.deploy import export
from tunesmith.deploy.export import check
from tunesmith.deploy.gguf_runtime import llama_cpp_available
from tunesmith.deploy.gguf_writer import write_gguf

RUNTIME = "llama-cpp" if llama_cpp_available() else "transformers"


@pytest.fixture(scope="module")
def q8_export(lora_run, tmp_path_factory):
    # The tiny random-weight Llama is far touchier than a trained model (q8_0 here: 0% exact match, 87.5% agreement;
    # SmolLM2-135M: 95%, bench/results/export_parity.md), so this test sets its own bar.
    settings = ExportConfig(gguf_type="q8_0", parity_prompts=4, parity_max_new_tokens=12, gguf_runtime=RUNTIME,
                            quantized_parity_threshold=0.75)
    return export(lora_run, "gguf", folder=tmp_path_factory.mktemp("q8") / "gguf", settings=settings)


def test_q8_0_export_is_gated_on_next_token_agreement(q8_export):
    report = json.loads((q8_export.path / "parity.json").read_text())
    assert report["gate"] == "next_token_agreement" and report["threshold"] == 0.75
    assert report["passed"] and report["prompt_token_match_rate"] == 1.0
    assert report["next_token_agreement"] >= report["threshold"]
    assert report["scored_tokens"] >= 4 and "mean_first_divergence" in report and "exact_match_rate" in report
    assert all("next_token_agreement" in case for case in report["cases"])


def test_a_broken_template_inside_a_quantized_gguf_is_caught(q8_export, lora_run):
    from tunesmith.deploy.merge import merged_model
    from tunesmith.train import load_run

    run = load_run(lora_run, merge=False)
    tokenizer = run.tokenizer
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = original.replace("{{ '<|im_start|>assistant", "{{ '<|im_start|>")
        assert tokenizer.chat_template != original
        write_gguf(merged_model(run), tokenizer, q8_export.path / "model.gguf", "q8_0")
    finally:
        tokenizer.chat_template = original
    report = check(q8_export.path)
    assert report["gate"] == "next_token_agreement"
    assert not report["passed"] and report["prompt_token_match_rate"] < 1.0
    assert report["first_divergence"]["prompt_token_index"] is not None
