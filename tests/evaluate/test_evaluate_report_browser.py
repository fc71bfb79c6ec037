"""The HTML report in a real headless Chromium: no console errors, tables and plots on screen."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tunesmith.evaluate import ChatContender, chat_items, score_chat, summarize
from tunesmith.evaluate.plots import BASELINE_COLOR, RUN_COLOR
from tunesmith.evaluate.report import write_reports

from .browser import dump_dom, pixel_stats, screenshot

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure_chromium.sh"


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> Path:
    """Install Debian's chromium once if missing; a per-session profile folder."""
    subprocess.run(["bash", str(SCRIPT)], check=True, timeout=900)
    return tmp_path_factory.mktemp("chromium-profile")


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i: i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def chat_report(chat_project, chat_splits, tmp_path) -> Path:
    settings = chat_project.config.evaluation
    items = chat_items(chat_splits["test"])
    answers = {item.prompt[-1]["content"]: item.reference for item in items}
    run_dir = tmp_path / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 2 / s, "eval_loss": 1 + 1 / s})
                                                     for s in range(1, 8)))
    contenders = [
        ChatContender("base zero-shot", lambda cs: ["Sorry, I don't know <b>that</b>."] * len(cs)),
        ChatContender("base few-shot", lambda cs: [f"Maybe 45 days? {c[-1]['content']}" for c in cs]),
        ChatContender("run-1", lambda cs: [answers[c[-1]["content"]] for c in cs], kind="run", run_dir=run_dir),
    ]
    comparison = summarize([score_chat(items, c, settings) for c in contenders], items, "chat", settings)
    write_reports(comparison, tmp_path / "eval", settings)
    return comparison.report_html


def test_console_errors_are_detected(chromium, tmp_path):
    """Control: the detector must see a broken page's error, or a clean result would mean nothing."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>missingFunction();</script></body></html>")
    _, console = dump_dom(page, chromium)
    assert any("missingFunction" in message for message in console)


def test_chat_report_renders_tables_and_plots_without_console_errors(chromium, chat_report, tmp_path):
    dom, console = dump_dom(chat_report, chromium)
    assert console == []
    for table_id in ("metrics", "tests", "side-by-side"):
        assert f'id="{table_id}"' in dom
    assert dom.count("<tr class=\"run\">") == 1 and dom.count("<tr class=\"baseline\">") == 2
    assert dom.count("data:image/png;base64,") >= 3  # intervals (2 metrics) + loss curves
    assert "&lt;b&gt;that&lt;/b&gt;" in dom  # model output is escaped, never rendered as HTML
    assert "Fine-tuning beat prompting" in dom

    png = tmp_path / "chat.png"
    console = screenshot(chat_report, png, chromium, size=(1280, 2600))
    assert console == []
    non_white, run_bars = pixel_stats(png, _rgb(RUN_COLOR))
    _, baseline_bars = pixel_stats(png, _rgb(BASELINE_COLOR))
    assert non_white > 0.05  # text, tables and figures, not a blank page
    assert run_bars > 500 and baseline_bars > 500  # the interval plots were decoded and drawn


def test_classification_report_shows_confusion_matrix_on_screen(chromium, tmp_path, tiny_encoder_dir):
    from tunesmith.config import parse_config
    from tunesmith.evaluate import class_items
    from tunesmith.evaluate.classifiers import majority_classifier, score_classification

    from .intents import TEMPLATES, intent_splits

    settings = parse_config({"evaluation": {"bootstrap_samples": 100}}).evaluation
    splits = intent_splits()
    labels = sorted(TEMPLATES)
    items = class_items(splits["test"])
    result = score_classification(items, majority_classifier(class_items(splits["train"]), labels), settings)
    comparison = summarize([result], items, "classification", settings)
    write_reports(comparison, tmp_path / "eval", settings)

    dom, console = dump_dom(comparison.report_html, chromium)
    assert console == []
    assert 'class="per-class"' in dom and 'class="confusion"' in dom
    png = tmp_path / "classification.png"
    assert screenshot(comparison.report_html, png, chromium, size=(1280, 2000)) == []
    _, dark_blue = pixel_stats(png, (8, 48, 107), tolerance=20)  # the darkest "Blues" cell
    assert dark_blue > 200
