"""Reports a non-expert reads: every metric shown is defined where it appears (HTML and CLI), answers are
diffed against the reference, and "what to do next" follows from the diagnostics."""

from __future__ import annotations

import html
import io
import json
import re

from rich.console import Console

from tunesmith.evaluate import ChatContender, chat_items, score_chat, summarize
from tunesmith.evaluate.advice import next_steps
from tunesmith.evaluate.diff_view import diff_html
from tunesmith.evaluate.metric_definitions import define
from tunesmith.evaluate.report import write_reports


def _report(chat_project, chat_splits, tmp_path, run_answer, metrics_rows=None):
    settings = chat_project.config.evaluation
    items = chat_items(chat_splits["test"])
    run_dir = tmp_path / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    if metrics_rows:
        (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in metrics_rows))
    contenders = [ChatContender("prompting", lambda cs: ["I am not sure, sorry." for _ in cs]),
                  ChatContender("run-1", lambda cs: [run_answer(c) for c in cs], kind="run", run_dir=run_dir)]
    comparison = summarize([score_chat(items, c, settings) for c in contenders], items, "chat", settings)
    write_reports(comparison, tmp_path / "out", settings)
    return comparison, comparison.report_html.read_text()


def test_every_metric_shown_is_defined_and_nothing_unshown_is_explained(chat_project, chat_splits, tmp_path):
    _, page = _report(chat_project, chat_splits, tmp_path, lambda c: "It is <b>blue</b> & red.")
    headers = re.findall(r'<th title="([^"]*)">([^<★]+)', page.split('id="metrics"')[1].split("</thead>")[0])
    assert headers
    for title, name in headers:
        metric = name.strip().removesuffix(" (corpus)")
        assert define(metric) and html.unescape(title) == define(metric), metric
        assert f"<dt>{metric}</dt><dd>{define(metric)}</dd>" in html.unescape(page)
    # no perplexity was measured (the contenders give no log-probabilities): the report does not explain it
    assert "perplexity" not in page
    assert "['" not in page and "[\"" not in page


def test_the_cli_table_is_followed_by_its_definitions(chat_project, chat_splits, tmp_path):
    comparison, _ = _report(chat_project, chat_splits, tmp_path, lambda c: "blue")
    out = io.StringIO()
    comparison.print(Console(file=out, width=200))
    text = out.getvalue()
    for metric in comparison.metrics_shown():
        if define(metric):
            assert f"{metric}: {define(metric)}" in text, metric


def test_side_by_side_answers_are_diffed_and_escaped(chat_project, chat_splits, tmp_path):
    _, page = _report(chat_project, chat_splits, tmp_path, lambda c: "It is <b>blue</b> & red.")
    side = page.split('id="side-by-side"')[1]
    assert '<ins class="diff">' in side and '<del class="diff">' in side
    assert "&lt;b&gt;blue&lt;/b&gt;" in side and "<b>blue</b>" not in side


def test_diff_marks_only_what_differs():
    assert diff_html("the cat sat", "the cat sat") == "the cat sat"
    marked = diff_html("the cat sat", "the dog sat")
    assert marked == 'the <del class="diff">cat</del><ins class="diff">dog</ins> sat'
    assert diff_html("", "<script>") == "&lt;script&gt;"


def test_next_steps_follow_the_diagnostics():
    data = {"verdict": "Fine-tuning did not beat prompting on accuracy",
            "contenders": [{"name": "run-1", "kind": "run", "details": {"per_class": {
                "billing": {"f1": 0.95, "support": 20}, "refund": {"f1": 0.31, "support": 4}}}}],
            "diagnostics": {"runs": {"run-1": {"overfitting": "Overfitting: validation loss rose 2 evaluations"}}},
            "data": {"overlong": 7, "max_length": 64}}
    advice = " ".join(next_steps(data))
    assert "'refund'" in advice and "'billing'" not in advice and "more training examples" in advice
    assert "fewer epochs" in advice and "model.max_length" in advice and "more (or more varied) training data" in advice
    cut = next_steps({"data": {"long_references": 3, "references": 40, "max_new_tokens": 96,
                               "longest_reference": 150}})
    assert cut and "3 of 40 reference answers" in cut[0] and "raise evaluation.max_new_tokens to 150" in cut[0]
    quiet = {"verdict": "Fine-tuning beat prompting", "contenders": [],
             "diagnostics": {"runs": {"run-1": {"overfitting": "No overfitting: validation loss has levelled off"}}}}
    assert next_steps(quiet) == []


def test_report_advises_fewer_epochs_when_the_run_overfit(chat_project, chat_splits, tmp_path):
    rows = [{"step": s, "loss": t} for s, t in ((10, 2.0), (20, 1.0), (30, 0.5), (40, 0.2))]
    rows += [{"step": s, "eval_loss": v} for s, v in ((10, 2.1), (20, 1.5), (30, 1.9), (40, 2.3))]
    _, page = _report(chat_project, chat_splits, tmp_path, lambda c: "blue", rows)
    steps = page.split('id="next-steps"')[1].split("</ul>")[0]
    assert "fewer epochs" in steps
