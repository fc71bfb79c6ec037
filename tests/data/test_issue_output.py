"""How issues reach the user (issue 14): user strings print as themselves, a problem repeated over
many lines is one line with a count, and a file-level mismatch is said once with the fix."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.data import prepare
from tunesmith.data.validate import validate_project

runner = CliRunner()
_register_commands()


def chat(user: str, role: str = "user") -> str:
    return json.dumps({"messages": [{"role": role, "content": user}, {"role": "assistant", "content": "ok " + user}]})


# 9: markup in the data
def test_markup_in_user_strings_prints_as_itself(make_project, tmp_path):
    text = chat("a", "[/]") + "\n" + chat("b", "[red]robot") + "\n" + chat("c", "[bold]x[/bold]") + "\n"
    make_project({"sources": [{"path": "d.jsonl"}]}, files={"d.jsonl": text})
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "d.jsonl:1: messages[0].role: unknown role '[/]'" in result.output
    assert "d.jsonl:2: messages[0].role: unknown role '[red]robot'" in result.output
    assert "d.jsonl:3: messages[0].role: unknown role '[bold]x[/bold]'" in result.output


# 11: rich emoji codes in file:line output
def test_line_numbers_are_not_turned_into_emoji(make_project, tmp_path):
    lines = [chat(f"question {i}") for i in range(99)] + ["[1]"]
    make_project({"sources": [{"path": "x.jsonl"}]}, files={"x.jsonl": "\n".join(lines) + "\n"})
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "error x.jsonl:100: expected a JSON object, got an array" in result.output
    assert "💯" not in result.output


def test_prepare_summary_prints_warnings_and_errors_as_text(make_project, tmp_path):
    lines = [chat(f"question {i}") for i in range(20)] + [chat("z", ":100: [/]")]
    make_project({"sources": [{"path": ":smile:.jsonl"}]}, files={":smile:.jsonl": "\n".join(lines) + "\n"})
    result = runner.invoke(app, ["data", "prepare", str(tmp_path), "--no-tokenizer"])
    assert result.exit_code == 0, result.output
    assert "error :smile:.jsonl:21: messages[0].role: unknown role ':100: [/]'" in result.output


# 14: one line per problem, not per row
def test_classification_table_with_one_label_like_column_uses_it(make_project, tmp_path):
    rows = "".join(f"ticket {i} text,{['billing', 'shipping'][i % 2]}\n" for i in range(3000))
    project = make_project({"sources": [{"path": "t.csv"}]}, task="classification",
                           files={"t.csv": "text,category\n" + rows})
    result = validate_project(project)
    assert result.records == 3000
    assert [(i.severity, i.line, i.message) for i in result.issues] == [
        ("info", 0, "using column 'category' as the label (objective.task is classification)")]
    assert "columns: {category: label}" in result.issues[0].hint
    assert prepare(project).manifest["labels"].keys() == {"billing", "shipping"}


def test_classification_table_with_two_label_like_columns_is_one_error_with_the_mapping(make_project, tmp_path):
    rows = "".join(f"ticket {i},{i % 3},{i % 2}\n" for i in range(3000))
    make_project({"sources": [{"path": "t.csv"}]}, task="classification",
                 files={"t.csv": "text,intent,sentiment\n" + rows})
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert errors == ["error t.csv: text rows have no label (objective.task is classification); columns found: "
                      "intent, sentiment, text (Add columns: {intent: label} to this source in data.sources (or one "
                      "of sentiment), or set objective.task to match the data.)"]


def test_repeated_problems_collapse_into_one_line_with_a_count(make_project, tmp_path):
    lines = [chat(f"question {i}", "bot" if i % 2 else "user") for i in range(4000)]
    make_project({"sources": [{"path": "c.jsonl"}]}, files={"c.jsonl": "\n".join(lines) + "\n"})
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert errors == ["error c.jsonl:2: messages[0].role: unknown role 'bot' (on 2,000 lines: 2, 4, 6, 8, 10, …) "
                      "(Use one of system, user, assistant, tool.)"]
    assert "2000 valid record(s), 2000 error(s)" in result.output


def test_the_problems_of_one_row_print_on_one_line(make_project, tmp_path):
    row = {"messages": [{"role": "bot", "content": "a"}, {"role": "assistant", "content": 5}]}
    make_project({"sources": [{"path": "c.jsonl"}]}, files={"c.jsonl": chat("fine") + "\n" + json.dumps(row) + "\n"})
    result = runner.invoke(app, ["data", "validate", str(tmp_path)])
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert errors == ["error c.jsonl:2: messages[0].role: unknown role 'bot' (Use one of system, user, assistant, "
                      "tool.); messages[1].content: expected a string, got a number (Give the text as a JSON string.)"]
    assert "1 valid record(s), 2 error(s)" in result.output


def test_issue_log_keys_on_file_field_and_message():
    from tunesmith.data.issues import Issue, IssueLog

    log = IssueLog()
    log.extend([Issue("a", 1, "f", "m"), Issue("a", 2, "f", "m"), Issue("b", 3, "f", "m"), Issue("a", 4, "g", "m"),
                Issue("a", 5, "f", "m", severity="warning")])
    assert [(i.file, i.line, i.field, i.count, i.lines) for i in log] == [
        ("a", 1, "f", 2, (1, 2)), ("b", 3, "f", 1, ()), ("a", 4, "g", 1, ()), ("a", 5, "f", 1, ())]
    assert log.total == 5 and len(log) == 4


def test_upload_check_counts_every_bad_line_when_repeats_collapse(tmp_path):
    """The fine-tuning upload check reads through the same ingest: its count stays the number of bad lines."""
    from tunesmith.config.data import DataConfig
    from tunesmith.finetune_api.errors import OpenAIError
    from tunesmith.finetune_api.uploads import read_training_file

    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([chat("fine"), *(chat(f"q{i}", "bot") for i in range(3))]) + "\n", encoding="utf-8")
    try:
        read_training_file(path, DataConfig())
    except OpenAIError as err:
        assert err.message.startswith("3 invalid line(s) in train.jsonl (line 2, 3, 4): train.jsonl:2: "), err.message
    else:
        raise AssertionError("the broken upload was accepted")
