"""The CLI shells: models promote/rollback/history, feedback import, improve --when, monitor."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.config import parse_config
from tunesmith.errors import TunesmithError
from tunesmith.feedback import open_project_store, production_version
from tunesmith.project import Project

_register_commands()
runner = CliRunner()


def make_project(tmp_path):
    project = Project.create(tmp_path, parse_config({"name": "cli", "feedback": {"log_requests": True}}))
    for name in ("run-a", "run-b"):
        folder = tmp_path / "runs" / name
        (folder / "adapter").mkdir(parents=True)  # a finished run; the registry never loads the adapter
        (folder / "adapter" / "adapter_config.json").write_text("{}")
        (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "tiny"}}))
        (folder / "run.json").write_text(json.dumps({"status": "completed", "dataset_version": "abc",
                                                     "method": "lora"}))
    return project


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_models_subcommands_manage_the_registry(tmp_path):
    project = make_project(tmp_path)
    assert "Model catalog" in invoke("models")
    assert "v1 [production]" in invoke("models", "promote", tmp_path / "runs" / "run-a", "-p", tmp_path)
    assert "v2 [production]" in invoke("models", "promote", tmp_path / "runs" / "run-b", "-p", tmp_path)
    assert "v1 [production]" in invoke("models", "rollback", "-p", tmp_path, "--reason", "bad answers")
    history = invoke("models", "history", "-p", tmp_path)
    assert "rollback: bad answers" in history and "run-b" in history
    assert production_version(open_project_store(project)).run_id == "run-a"


def test_import_when_and_monitor(tmp_path):
    make_project(tmp_path)
    invoke("models", "promote", tmp_path / "runs" / "run-a", "-p", tmp_path)
    rows = tmp_path / "fb.csv"
    rows.write_text("prompt,correction,rating\nWhere is my bike?,In the shop.,down\nHi,Hello!,up\n")
    assert "imported 2 feedback rows" in invoke("feedback", "import", rows, "-p", tmp_path)
    skipped = invoke("improve", tmp_path, "--when", "feedback>=5")
    assert "not improving yet: feedback is 2 (needs >= 5)" in skipped
    result = runner.invoke(app, ["improve", str(tmp_path), "--when", "feedbacks>=5"])
    assert isinstance(result.exception, TunesmithError)
    output = invoke("monitor", tmp_path)
    assert "feedback" in output and (tmp_path / "monitor" / "report.html").exists()
