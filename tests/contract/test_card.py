"""The model card is a Hugging Face card (front matter ModelCard.load parses, relative links) in the run, its
adapter/ and every export, with the report's overfitting verdict; an adapter of a bundled base names it by its Hub
id and loads on a machine that never saw tunesmith's cache."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from contract_helpers import SYSTEM, parcel_records

from tunesmith.models.catalog import CatalogEntry

PEFT_TEMPLATE = "Provide a quick summary of what the model is/does"  # PEFT's blank README template


def test_run_and_adapter_cards_parse_and_agree_with_the_report(system_project):
    from huggingface_hub import ModelCard

    from tunesmith.evaluate import compare

    project, dataset, folder = system_project
    for path in (folder.card_file, folder.path / "adapter" / "README.md"):
        card = ModelCard.load(path)
        assert card.data.library_name == "peft" and card.data.pipeline_tag == "text-generation"
        assert card.data.datasets == [f"parcels/{dataset.version}"] and PEFT_TEMPLATE not in card.text
        assert SYSTEM in card.text  # how to prompt it
    assert "[config.yaml](../config.yaml)" in (folder.path / "adapter" / "README.md").read_text()
    comparison = compare(project, dataset, [folder.path], baselines=False)
    report = json.loads(comparison.report_json.read_text())
    verdict = report["diagnostics"]["runs"][folder.run_id]["overfitting"]
    for path in (folder.card_file, folder.path / "adapter" / "README.md"):
        card = ModelCard.load(path)
        assert f"Overfitting check: {verdict}" in card.text  # one verdict, card and report
        assert "may be overfitting" not in card.text
        result = card.data.eval_results[0]
        assert (result.metric_type, result.dataset_split) == (comparison.primary, comparison.split)
        assert result.metric_value == round(comparison.row(folder.run_id).metrics[comparison.primary].mean, 4)
    text = folder.card_file.read_text()
    assert "Full report: [report.html](eval/report.html)" in text and str(folder.path) not in text


@dataclass(frozen=True)
class LocalEntry(CatalogEntry):
    """A catalog entry whose shipped weights are a local folder (the tiny model stands in for a bundled one)."""

    folder: str = ""

    def shipped_path(self) -> Path:
        return Path(self.folder)


def test_an_adapter_names_a_bundled_base_by_hub_id_and_loads_elsewhere(contract_base, tmp_path, monkeypatch):
    from huggingface_hub import ModelCard
    from peft import PeftModel

    from tunesmith.config import parse_config
    from tunesmith.models import catalog
    from tunesmith.models.loading import load_causal_lm
    from tunesmith.serve.registry import describe
    from tunesmith.train import run_training

    entry = LocalEntry(name="tiny-bundled", kind="causal-lm", package="none", module="none", relative_path="",
                       sha256="", parameters=0, license="MIT", good_for="tests", source_format="hf",
                       hub_id="tunesmith-tests/tiny-llama", folder=str(contract_base))
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    config = parse_config({"model": {"name": "tiny-bundled", "max_length": 64},
                           "method": {"name": "lora", "r": 2, "alpha": 4, "dropout": 0.0},
                           "training": {"max_steps": 1, "batch_size": 4, "eval_every": 1, "num_threads": 1}})
    run_dir = tmp_path / "trained" / "runs" / "run-1"
    run_training(config, parcel_records(8), parcel_records(4, 8), run_dir)
    adapter_config = (run_dir / "adapter" / "adapter_config.json").read_text()
    assert json.loads(adapter_config)["base_model_name_or_path"] == "tunesmith-tests/tiny-llama"
    assert str(contract_base) not in adapter_config
    assert ModelCard.load(run_dir / "README.md").data.base_model == "tunesmith-tests/tiny-llama"

    copy = shutil.copytree(run_dir / "adapter", tmp_path / "elsewhere" / "adapter")
    shutil.rmtree(tmp_path / "trained")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a machine that never saw the training machine's cache
    for name in ("XDG_CACHE_HOME", "TUNESMITH_CACHE"):
        monkeypatch.delenv(name, raising=False)
    model = PeftModel.from_pretrained(load_causal_lm("tunesmith-tests/tiny-llama"), str(copy))
    assert model.peft_config["default"].base_model_name_or_path == "tunesmith-tests/tiny-llama"
    assert Path(describe(copy).base) == contract_base  # tunesmith serve finds the base the same way
