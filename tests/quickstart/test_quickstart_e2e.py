"""The README's promise, end to end: the quickstart fine-tunes and the result beats the base model."""

import pytest

from tunesmith.config import load_config
from tunesmith.quickstart.run import RECIPE, run_quickstart


def test_quickstart_pipeline_on_a_tiny_model(tmp_path, tiny_lm_dir):
    result = run_quickstart(tmp_path / "qs", fast=True, overrides=[
        f"model.name={tiny_lm_dir}", "evaluation.max_examples=4", "evaluation.max_new_tokens=4",
        "training.max_steps=2"])
    assert load_config(tmp_path / "qs").name == RECIPE["name"]
    assert (result.run_dir / "adapter" / "adapter_config.json").exists()
    assert result.comparison.report_html.exists()
    names = [row.name for row in result.comparison.rows]
    assert names[0] == "base zero-shot" and result.run_dir.name in names


@pytest.mark.slow
def test_quickstart_fast_beats_the_base_model(quickstart_fast):
    comparison = quickstart_fast.comparison
    base = comparison.row("base zero-shot")
    tuned = next(row for row in comparison.rows if row.kind == "run")
    for metric, margin in (("fact_accuracy", 0.2), ("rouge_l", 0.1)):
        assert tuned.metrics[metric].mean >= base.metrics[metric].mean + margin, (metric, comparison.verdict)
    test = next(t for t in comparison.tests
                if t.a == tuned.name and t.b == "base zero-shot" and t.metric == "fact_accuracy")
    assert test.significant, comparison.verdict
