"""Fine-tuned runs as contenders: tiny runs trained here, loaded with load_run, compared to baselines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tunesmith.config import parse_config
from tunesmith.evaluate import compare
from tunesmith.evaluate.card import START
from tunesmith.project import Project

from .intents import intent_splits

TRAINING = {"max_steps": 3, "batch_size": 4, "eval_every": 1, "learning_rate": 5e-3, "warmup_ratio": 0.0,
            "num_threads": 1}


@pytest.fixture(scope="module")
def support_project(tmp_path_factory, tiny_lm_dir):
    """The example support dataset, prepared, with one tiny LoRA run trained for 3 steps."""
    from tunesmith.data import prepare
    from tunesmith.quickstart.dataset import write_support_dataset
    from tunesmith.train import train

    root = tmp_path_factory.mktemp("support")
    write_support_dataset(root / "sources" / "support.jsonl")
    config = parse_config({
        "objective": {"task": "chat", "description": "Answer Larkspur Cycles support questions."},
        "data": {"sources": [{"path": "sources/support.jsonl"}], "validation_share": 0.1, "test_share": 0.15},
        "model": {"name": str(tiny_lm_dir), "max_length": 96},
        "method": {"name": "lora", "r": 4, "alpha": 8, "dropout": 0.0}, "training": TRAINING,
        "evaluation": {"max_examples": 8, "max_new_tokens": 4, "batch_size": 8, "few_shot_k": 1,
                       "bootstrap_samples": 200},
    })
    project = Project.create(root, config)
    dataset = prepare(project)
    run = train(project, dataset)
    return project, dataset, run.run_dir


def test_compare_loads_a_trained_run_and_writes_its_report_and_card(support_project):
    project, dataset, run_dir = support_project
    comparison = compare(project, dataset, [run_dir])
    assert [r.kind for r in comparison.rows] == ["baseline", "baseline", "run"]
    assert comparison.rows[-1].name == run_dir.name
    assert comparison.primary == "fact_accuracy"  # the support records carry facts
    assert {t.b for t in comparison.tests} == {"base zero-shot", "base few-shot (k=1)"}
    assert comparison.report_html == run_dir / "eval" / "report.html"
    data = json.loads(comparison.report_json.read_text())
    curves = data["diagnostics"]["runs"][run_dir.name]["loss_curves"]
    assert len(curves["train"]) == 3 and len(curves["validation"]) >= 2
    card = (run_dir / "README.md").read_text()
    assert card.count(START) == 1 and comparison.verdict in card


def test_cli_compare_prints_the_table_and_verdict(support_project, tmp_path):
    from tunesmith.cli import _register_commands, app

    _, _, run_dir = support_project
    _register_commands()
    out = tmp_path / "cli-report"
    result = CliRunner().invoke(app, ["compare", str(run_dir), "--no-baselines", "--out", str(out),
                                      "--set", "evaluation.max_examples=4"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert run_dir.name in result.output and "No baselines were evaluated" in result.output
    assert json.loads((out / "report.json").read_text())["n_items"] == 4


def test_cli_eval_of_a_missing_run_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from tunesmith.cli import main; main()", "eval",
                           str(tmp_path / "runs" / "nope")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: run folder") and "Traceback" not in done.stderr


def test_classifier_run_against_baselines(tmp_path, tiny_encoder_dir):
    from tunesmith.train import run_training

    splits = intent_splits()
    config = parse_config({"objective": {"task": "classification"}, "model": {"name": str(tiny_encoder_dir),
                                                                              "max_length": 32},
                           "training": TRAINING, "evaluation": {"bootstrap_samples": 200, "few_shot_k": 2},
                           "few_shot": {"recipe": "head"}})  # the plain head (auto would pick embedding here)
    project = Project.create(tmp_path / "intents", config)
    run = run_training(config, splits["train"], splits["validation"], project.runs_dir / "run-cls")
    comparison = compare(project, splits, [run.run_dir])
    assert [r.name for r in comparison.rows] == ["majority class", "base few-shot (k=2 per class)", "run-cls"]
    assert {t.metric for t in comparison.tests} == {"accuracy"}  # confidence is a diagnostic, not a metric
    run_result = comparison.results[-1]
    assert set(run_result.details["per_class"]) == {"billing", "shipping", "technical"}
    assert run_result.details["calibration"]["fitted_on"] == "validation"
    html = comparison.report_html.read_text()
    assert html.count('class="confusion"') == 3 and "Per-class results" in html
