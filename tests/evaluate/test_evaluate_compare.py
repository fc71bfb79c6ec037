"""compare(): contenders on one held-out split, intervals, paired tests, verdict, reports, model card."""

from __future__ import annotations

import json

from tunesmith.evaluate import ChatContender, chat_items, compare, score_chat, summarize
from tunesmith.evaluate.card import END, START, update_model_cards
from tunesmith.evaluate.report import write_reports


def test_compare_runs_both_baselines_on_the_tiny_model(chat_project, chat_splits):
    comparison = compare(chat_project, chat_splits, [])
    names = [row.name for row in comparison.rows]
    assert names == ["base zero-shot", "base few-shot (k=2)"]
    assert len(comparison.items) == 12  # the augmented record is never evaluated
    row = comparison.rows[0]
    expected = {"exact_match", "token_f1", "rouge_l", "fact_accuracy", "reference_nll", "check:no-apology", "judge"}
    assert expected <= set(row.metrics)
    assert {"bleu", "chrf", "perplexity"} <= set(row.corpus)
    assert row.metrics["fact_accuracy"].low <= row.metrics["fact_accuracy"].mean <= row.metrics["fact_accuracy"].high
    assert comparison.primary == "fact_accuracy"
    assert "Only baselines" in comparison.verdict
    data = json.loads(comparison.report_json.read_text())
    assert data["schema_version"] == 1 and data["n_items"] == 12
    assert set(data) == {"schema_version", "created", "task", "split", "n_items", "primary_metric", "verdict",
                         "settings", "contenders", "paired_tests", "interval_methods", "diagnostics", "items",
                         "split_note", "caveat", "data", "next_steps"}
    # the fixture's 6-token answers are shorter than its references: the report says so, not "models are bad"
    assert data["data"]["long_references"] == 12 and data["data"]["max_new_tokens"] == 6
    assert data["data"]["longest_reference"] > 6
    assert any("evaluation.max_new_tokens (6 tokens)" in step for step in data["next_steps"])
    assert set(data["contenders"][0]) == {"name", "kind", "metrics", "corpus", "run_dir", "details"}
    assert set(data["contenders"][0]["metrics"]["token_f1"]) == {"mean", "low", "high", "n", "method"}
    assert data["contenders"][0]["details"]["judge_model"] == str(chat_project.config.model.name)
    html = comparison.report_html.read_text()
    assert html.count("<table") >= 2
    assert "model-as-judge with a small local model: indicative only" in html
    assert comparison.report_json.parent == chat_project.root / "eval"


def _fixed(answers):
    return lambda conversations: [answers(c) for c in conversations]


def test_a_run_that_knows_the_facts_beats_prompting_significantly(chat_project, chat_splits, tmp_path):
    settings = chat_project.config.evaluation
    items = chat_items(chat_splits["test"])
    by_question = {item.prompt[-1]["content"]: item.reference for item in items}
    run_dir = tmp_path / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(e) for e in [
        {"step": 10, "loss": 2.0}, {"step": 10, "eval_loss": 2.1}, {"step": 20, "loss": 1.0},
        {"step": 20, "eval_loss": 1.5}, {"step": 30, "loss": 0.4}, {"step": 30, "eval_loss": 1.9},
        {"step": 40, "loss": 0.2}, {"step": 40, "eval_loss": 2.3}]))  # rose twice (the default patience)
    contenders = [ChatContender("prompting", _fixed(lambda c: "I am not sure, sorry.")),
                  ChatContender("run-1", _fixed(lambda c: by_question[c[-1]["content"]]), kind="run",
                                run_dir=run_dir)]
    results = [score_chat(items, c, settings) for c in contenders]
    comparison = summarize(results, items, "chat", settings)
    assert comparison.row("run-1").metrics["fact_accuracy"].mean == 1.0
    assert comparison.row("prompting").metrics["check:no-apology"].mean == 0.0
    test = next(t for t in comparison.tests if t.metric == "fact_accuracy")
    assert test.significant and test.difference.mean == 1.0
    assert comparison.verdict.startswith("Fine-tuning beat prompting on fact_accuracy")
    assert "excludes zero" in comparison.verdict

    write_reports(comparison, tmp_path / "out", settings)
    data = json.loads(comparison.report_json.read_text())
    diagnostics = data["diagnostics"]["runs"]["run-1"]
    assert diagnostics["overfitting"].startswith("Overfitting")
    assert len(diagnostics["worst"]) == settings.examples_in_report
    html = comparison.report_html.read_text()
    assert "Training curves" in html and "Worst examples" in html and "data:image/png;base64," in html

    card = run_dir / "README.md"
    card.write_text("# run-1\n\nTrained on bikes.\n")
    update_model_cards(comparison)
    update_model_cards(comparison)  # idempotent: one section, replaced
    text = card.read_text()
    from huggingface_hub import ModelCard

    parsed = ModelCard(text)  # the user's text is kept, below the front matter evaluation fills in
    assert parsed.text.lstrip().startswith("# run-1\n\nTrained on bikes.")
    assert parsed.data.eval_results[0].metric_type == "fact_accuracy"
    assert text.count(START) == 1 and text.count(END) == 1
    assert "Fine-tuning beat prompting" in text


def test_nothing_to_evaluate_and_empty_held_out_split_are_clear_errors(chat_project, chat_splits):
    import pytest

    from tunesmith.errors import DataError, TunesmithError

    with pytest.raises(TunesmithError, match="nothing to evaluate"):
        compare(chat_project, chat_splits, [], baselines=False)
    with pytest.raises(DataError, match="no usable held-out records") as info:
        compare(chat_project, {"train": chat_splits["train"], "test": [], "validation": []}, [])
    assert "test_share" in info.value.hint
