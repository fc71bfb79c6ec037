"""GGUF export: the file reloads in a GGUF runtime and answers like the training-time model."""

from __future__ import annotations

import json

import pytest

from tunesmith.config.serve import ExportConfig
from tunesmith.deploy import export
from tunesmith.deploy.gguf_runtime import llama_cpp_available

RUNTIMES = ["transformers"] + (["llama-cpp"] if llama_cpp_available() else [])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gguf_export_with_modelfile_passes_parity(lora_run, tmp_path, runtime):
    settings = ExportConfig(gguf_type="f32", parity_prompts=4, parity_max_new_tokens=12, gguf_runtime=runtime)
    result = export(lora_run, "gguf", folder=tmp_path / "gguf", settings=settings)
    report = json.loads((result.path / "parity.json").read_text())
    assert report["passed"] and report["prompt_token_match_rate"] == 1.0
    assert report["exact_match_rate"] >= 0.9
    assert report["runtime"].startswith("llama-cpp" if runtime == "llama-cpp" else "transformers")
    modelfile = (result.path / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "{{ range .Messages }}" in modelfile and "<|im_start|>assistant\n" in modelfile
    assert json.loads((result.path / "export.json").read_text())["gguf_type"] == "f32"
