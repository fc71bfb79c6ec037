"""Exports of a real tiny run: each format reloads and answers like the training-time model."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from tunesmith.deploy import export
from tunesmith.deploy.export import check
from tunesmith.errors import TunesmithError


def report_time(folder):
    return json.loads((folder / "parity.json").read_text())["checked_at"]


def test_merged_hf_export_has_everything_and_passes_parity(lora_run, tmp_path):
    result = export(lora_run, "hf", folder=tmp_path / "hf")
    folder = result.path
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "parity.json"):
        assert (folder / name).exists(), name
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert not any("lora" in key for key in list(weights.keys())), "the adapter must be merged"
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(folder).chat_template, "the chat template travels with the export"
    report = json.loads((folder / "parity.json").read_text())
    assert report["passed"] and report["exact_match_rate"] == 1.0 and report["prompt_token_match_rate"] == 1.0
    assert report["prompts"] == 6 and report["first_divergence"] is None
    assert report["runtime"].startswith("transformers")


def test_adapter_export_is_standard_peft(lora_run, tmp_path):
    result = export(lora_run, "adapter", folder=tmp_path / "adapter")
    assert (result.path / "adapter_config.json").exists() and (result.path / "adapter_model.safetensors").exists()
    assert result.parity["passed"] and result.parity["exact_match_rate"] == 1.0


def test_a_broken_chat_template_is_caught(lora_run, tmp_path):
    folder = export(lora_run, "hf", folder=tmp_path / "hf").path
    template_file = folder / "chat_template.jinja"
    original = template_file.read_text()
    # A classic export bug: the template loses the assistant turn opener, so the model sees a different prompt.
    template_file.write_text(original.replace("{{ '<|im_start|>assistant", "{{ '<|im_start|>"))
    assert template_file.read_text() != original
    report = check(folder)
    assert json.loads((folder / "parity.json").read_text()) == {**report, "checked_at": report_time(folder)}
    assert not report["passed"] and report["prompt_token_match_rate"] < 1.0
    assert report["first_divergence"]["prompt_token_index"] is not None


def test_cli_export_and_on_demand_check(lora_run, tmp_path):
    from typer.testing import CliRunner

    from tunesmith.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    out = tmp_path / "cli-adapter"
    result = runner.invoke(app, ["export", str(lora_run), "--format", "adapter", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "parity passed: 100% of 6 answers identical" in result.output
    again = runner.invoke(app, ["export", str(out), "--check"])
    assert again.exit_code == 0 and "parity passed" in again.output


def test_exporting_a_folder_that_is_not_a_run_fails_with_one_line(tmp_path):
    with pytest.raises(TunesmithError, match="not a tunesmith run folder"):
        export(tmp_path, "hf")
