"""The bundled models end to end (slow): minilm-l6 on the intent dataset written for these tests."""

from __future__ import annotations

import base64
import re

import pytest

from tunesmith.config import parse_config
from tunesmith.evaluate import compare
from tunesmith.project import Project

from .intents import TEMPLATES, intent_records


@pytest.mark.slow
def test_minilm_classifier_report_shows_per_class_metrics_and_confusion_matrix(tmp_path):
    from tunesmith.train import run_training

    splits = {"train": intent_records(16, seed=1, prefix="tr"), "validation": intent_records(4, seed=2, prefix="va"),
              "test": intent_records(8, seed=3, prefix="te")}
    config = parse_config({
        "objective": {"task": "classification"}, "model": {"name": "minilm-l6", "max_length": 32},
        "method": {"name": "lora", "r": 8, "alpha": 16, "dropout": 0.0},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 3e-3, "eval_every": 6, "warmup_ratio": 0.0},
        "evaluation": {"bootstrap_samples": 500, "few_shot_k": 3},
    })
    project = Project.create(tmp_path / "intents", config)
    run = run_training(config, splits["train"], splits["validation"], project.runs_dir / "minilm-lora")
    comparison = compare(project, splits, [run.run_dir])

    fine_tuned = comparison.row("minilm-lora")
    majority = comparison.row("majority class")
    assert fine_tuned.metrics["accuracy"].mean > majority.metrics["accuracy"].mean
    html = comparison.report_html.read_text()
    section = html.split("<h3>minilm-lora</h3>", 1)[1]
    for label in TEMPLATES:
        row = re.search(rf"<td>{label}</td>\s*<td class=\"num\">([\d.]+)</td><td class=\"num\">([\d.]+)</td>", section)
        assert row, f"no precision/recall row for {label}"
        per_class = next(r for r in comparison.results if r.name == "minilm-lora").details["per_class"][label]
        assert float(row.group(1)) == pytest.approx(per_class["precision"], abs=1e-3)
        assert float(row.group(2)) == pytest.approx(per_class["recall"], abs=1e-3)
    image = re.search(r'<img class="confusion" alt="confusion matrix of minilm-lora" src="data:image/png;base64,'
                      r'([^"]+)"', html)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
