"""Classification evaluation: scikit-learn metrics per class, confusion matrix image, calibration, abstain."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sklearn.metrics import precision_recall_fscore_support

from tunesmith.config import parse_config
from tunesmith.evaluate import class_items, compare
from tunesmith.evaluate.classifiers import model_classifier, score_classification
from tunesmith.evaluate.compare import summarize
from tunesmith.evaluate.report import write_reports
from tunesmith.models.loading import load_classifier, load_tokenizer
from tunesmith.project import Project

from .intents import TEMPLATES, intent_splits


@pytest.fixture
def intent_project(tmp_path, tiny_encoder_dir) -> Project:
    config = parse_config({"objective": {"task": "classification"}, "model": {"name": str(tiny_encoder_dir)},
                           "evaluation": {"batch_size": 8, "few_shot_k": 3, "bootstrap_samples": 200,
                                          "abstain_below": 0.5}})
    return Project.create(tmp_path / "intents", config)


def test_classifier_run_report_has_per_class_metrics_and_a_confusion_matrix(intent_project, tiny_encoder_dir,
                                                                            tmp_path):
    splits = intent_splits()
    settings = intent_project.config.evaluation
    labels = sorted(TEMPLATES)
    model = load_classifier(tiny_encoder_dir, labels)
    contender = model_classifier("tiny-run", model, load_tokenizer(tiny_encoder_dir), labels, settings)
    items = class_items(splits["test"])
    result = score_classification(items, contender, settings, class_items(splits["validation"]))

    refs = [i.label for i in items]
    p, r, _, _ = precision_recall_fscore_support(refs, result.outputs, labels=labels, zero_division=0)
    for k, label in enumerate(labels):
        assert result.details["per_class"][label]["precision"] == pytest.approx(p[k])
        assert result.details["per_class"][label]["recall"] == pytest.approx(r[k])
    assert sum(map(sum, result.details["confusion_matrix"])) == len(items)
    calibration = result.details["calibration"]
    assert calibration["fitted_on"] == "validation" and calibration["temperature"] > 0
    assert 0 <= result.details["abstain"]["coverage"] <= 1

    comparison = summarize([result], items, "classification", settings)
    assert comparison.primary == "accuracy"
    write_reports(comparison, tmp_path / "report", settings)
    html = comparison.report_html.read_text()
    for label in labels:
        assert re.search(rf"<td>{label}</td>\s*<td class=\"num\">", html)
    image = re.search(r'<img class="confusion"[^>]*src="data:image/png;base64,([^"]+)"', html)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    data = json.loads(comparison.report_json.read_text())
    assert set(data["contenders"][0]["details"]["per_class"]) == set(labels)
    # a classification report defines what it shows and explains no perplexity it does not show
    assert "perplexity" not in html and "<dt>precision</dt>" in html and "<dt>accuracy</dt>" in html


def test_compare_classification_baselines(intent_project):
    comparison = compare(intent_project, intent_splits(), [])
    names = [row.name for row in comparison.rows]
    assert names == ["majority class", "base few-shot (k=3 per class)"]
    majority = comparison.results[0]
    assert len(set(majority.outputs)) == 1  # always the most common training label
    assert comparison.row("majority class").metrics["accuracy"].mean == pytest.approx(1 / 3)
    assert comparison.report_html.exists()
