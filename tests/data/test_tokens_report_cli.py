"""Token statistics and masks with the real SmolLM2 tokenizer, the HTML report and the CLI commands."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.data import prepare
from tunesmith.data.tokens import token_lengths, token_mask
from tunesmith.models.loading import load_tokenizer

runner = CliRunner()
_register_commands()

CHAT = {"id": "c1", "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Price?"},
    {"role": "assistant", "content": "Nine dollars.", "weight": 0}, {"role": "user", "content": "And shipping?"},
    {"role": "assistant", "content": "Free shipping."}], "meta": {}}


def test_masks_cover_exactly_the_weighted_assistant_turns(tiny_lm_dir):
    tokenizer = load_tokenizer(tiny_lm_dir)
    ids, mask = token_mask(CHAT, tokenizer)
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == "Free shipping." + tokenizer.eos_token
    assert "Nine dollars." in tokenizer.decode(ids)  # weight 0: read, not trained
    assert token_lengths([CHAT], tokenizer, "chat") == [len(ids)]


def test_prepare_with_tokenizer_records_token_stats_and_drops_overlong(make_project, chat_rows, tiny_lm_dir):
    tokenizer = load_tokenizer(tiny_lm_dir)
    rows = chat_rows(12)
    rows[0]["messages"][1]["content"] = "very long answer " * 200
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": rows})
    project.config.model.max_length = 128
    tokens = prepare(project, tokenizer).manifest["tokens"]
    assert tokens["overlong"] == 1 and tokens["overlong_action"] == "truncate" and tokens["max"] > 128
    assert 0.05 < tokens["trained_share"] < 0.95
    project.config.model.max_length = 4096  # same data version; the token stats are refreshed
    again = prepare(project, tokenizer).manifest["tokens"]
    assert (again["max_length"], again["overlong"]) == (4096, 0)
    project.config.model.max_length = 128
    project.config.data.overlong = "drop"
    dataset = prepare(project, tokenizer)
    assert dataset.manifest["counts"]["dropped_by_length"] == 1
    assert sum(len(dataset.split(s)) for s in ("train", "validation", "test")) == 11
    assert dataset.manifest["tokens"]["max"] <= 128


def test_html_report_is_self_contained(make_project, chat_rows):
    rows = [*chat_rows(30), chat_rows(1)[0], {"messages": [{"role": "user", "content": "no answer"}]}]
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": rows})
    page = prepare(project).report_path.read_text()
    assert page.count("data:image/png;base64,") >= 1
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "conversation has no assistant turn" in page  # rejects table
    assert "<td>dropped exact duplicates</td><td>1</td>" in page


def test_cli_inspect_validate_prepare_report_preview(make_project, chat_rows, tmp_path):
    rows = [*chat_rows(10), {"messages": [{"role": "bot", "content": "x"}]}]
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": rows})
    result = runner.invoke(app, ["data", "inspect", str(tmp_path / "chat.jsonl")])
    assert result.exit_code == 0, result.output
    assert "format openai" in result.output and result.output.count('"messages"') == 3
    result = runner.invoke(app, ["data", "validate", str(project.root)])
    assert result.exit_code == 2 and "1 error(s)" in result.output  # a data error, like any user error
    assert "error chat.jsonl:11: messages[0].role: unknown role 'bot' (Use one of" in result.output
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "chat.jsonl")])
    assert result.exit_code == 2 and "chat.jsonl:11: messages[0].role: unknown role 'bot'" in result.output
    result = runner.invoke(app, ["data", "report", str(project.root)])
    assert result.exit_code != 0 and "not been prepared" in str(result.exception)
    result = runner.invoke(app, ["data", "prepare", str(project.root), "--no-tokenizer"])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.output and "report:" in result.output
    result = runner.invoke(app, ["data", "report", str(project.root)])
    assert result.exit_code == 0 and "dataset " in result.output
    result = runner.invoke(app, ["data", "preview", str(project.root), "--split", "validation"])
    assert result.exit_code == 0 and json.loads(result.output)["messages"]


def test_cli_inspect_with_column_mapping(tmp_path):
    (tmp_path / "reviews.csv").write_text("body,category\n\"slow, late delivery\",shipping\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "inspect", str(tmp_path / "reviews.csv"),
                                 "--column", "body=text", "--column", "category=label"])
    assert result.exit_code == 0, result.output
    assert "format text_label" in result.output and '"label": "shipping"' in result.output


def test_cli_preview_masks(make_project, chat_rows, tiny_lm_dir):
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(5)})
    project.config.model.name = str(tiny_lm_dir)
    project.save()
    assert runner.invoke(app, ["data", "prepare", str(project.root)]).exit_code == 0
    result = runner.invoke(app, ["data", "preview", str(project.root), "--masks"])
    assert result.exit_code == 0, result.output
    assert re.search(r"trained: \d+ of \d+ tokens", result.output)
