"""Export of a plain (head-recipe) classifier run: a transformers sequence classifier folder, or its adapter,
checked on predicted labels."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_helpers import classification_records, tiny_config


@pytest.mark.parametrize(("method", "format"), [("full", "hf"), ("lora", "adapter")])
def test_a_head_classifier_exports_and_predicts_as_the_run(tiny_encoder_dir, tmp_path, method, format):
    from transformers import AutoModelForSequenceClassification

    from tunesmith.deploy import export
    from tunesmith.train import load_run, run_training

    config = tiny_config(tiny_encoder_dir, method, "classification", max_steps=4)
    config.few_shot.recipe = "head"  # (12 texts a label would pick the embedding recipe)
    run_training(config, classification_records(24), classification_records(8), tmp_path / "run")
    result = export(tmp_path / "run", format, folder=tmp_path / "export")
    assert result.parity["passed"] and result.parity["compared"] == "predicted labels", result.parity
    if format == "hf":
        loaded = load_run(tmp_path / "run")
        exported = AutoModelForSequenceClassification.from_pretrained(tmp_path / "export").eval()
        tokens = loaded.tokenizer(["great lovely fine", "awful bad sad"], return_tensors="pt", padding=True)
        with torch.no_grad():
            assert torch.allclose(exported(**tokens).logits, loaded.model(**tokens).logits, atol=1e-5)
    else:
        assert (tmp_path / "export" / "adapter_config.json").exists()
