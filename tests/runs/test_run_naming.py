"""A run is named the same way in every command: id, unique part of an id, `latest`, or a path (relative paths
against the project first, then the current folder)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.errors import TunesmithError
from tunesmith.runs import resolve_run

_register_commands()


@pytest.fixture
def three_runs(project, make_run):
    for name in ("20261129-100000-lora", "20261129-110000-dora", "20261130-090000-lora"):
        make_run(project, name)
    (project / "runs" / "notes").mkdir()  # not a run: never listed or matched
    return project


@pytest.mark.parametrize(("ref", "expected"), [
    ("20261129-110000-dora", "20261129-110000-dora"), ("20261130", "20261130-090000-lora"),
    ("dora", "20261129-110000-dora"), ("latest", "20261130-090000-lora"),
    ("runs/20261129-100000-lora", "20261129-100000-lora"),
])
def test_names_resolve_from_anywhere_given_the_project(three_runs, tmp_path, monkeypatch, ref, expected):
    monkeypatch.chdir(tmp_path)  # not the project
    assert resolve_run(ref, three_runs).path == three_runs / "runs" / expected


def test_without_a_project_names_are_looked_up_in_the_current_project(three_runs, monkeypatch):
    monkeypatch.chdir(three_runs / "runs")
    assert resolve_run("20261129-100000-lora").run_id == "20261129-100000-lora"  # a path relative to here
    monkeypatch.chdir(three_runs)
    assert resolve_run("latest").run_id == "20261130-090000-lora"


def test_a_project_relative_path_wins_over_the_current_folder(three_runs, tmp_path, monkeypatch, make_run):
    elsewhere = tmp_path / "elsewhere"
    make_run(elsewhere, "20261129-100000-lora")
    monkeypatch.chdir(elsewhere)
    assert resolve_run("runs/20261129-100000-lora", three_runs).path == three_runs / "runs" / "20261129-100000-lora"
    assert resolve_run("runs/20261129-100000-lora").path == elsewhere / "runs" / "20261129-100000-lora"
    absolute = elsewhere / "runs" / "20261129-100000-lora"
    assert resolve_run(absolute, three_runs).path == absolute


@pytest.mark.parametrize(("ref", "message"), [
    ("lora", r"'lora' matches 2 runs \(20261129-100000-lora, 20261130-090000-lora\)\. Give more of the run id"),
    ("nope", r"no run 'nope' in .*/proj/runs\. Pass a run id, a unique part of one, `latest` or a run folder"),
    ("runs/notes", r"/proj/runs/notes is not a tunesmith run folder \(no run.json\)"),
    ("runs/gone", r"run folder runs/gone does not exist \(looked for .*/proj/runs/gone or .*/runs/gone\)"),
])
def test_names_that_match_none_or_several_get_one_line(three_runs, ref, message):
    with pytest.raises(TunesmithError, match=message):
        resolve_run(ref, three_runs)


def test_latest_in_a_project_without_runs(project):
    with pytest.raises(TunesmithError, match="no run 'latest'"):
        resolve_run("latest", project)


def test_promote_a_project_relative_path_from_another_folder(three_runs, tmp_path, monkeypatch):
    from tunesmith.feedback import open_project_store, production_version
    from tunesmith.project import Project

    monkeypatch.chdir(tmp_path)  # issue 14 item 20: this resolved runs/<id> against the current folder
    result = CliRunner().invoke(app, ["models", "promote", "runs/20261129-110000-dora", "-p", str(three_runs)])
    assert result.exit_code == 0, result.output
    assert "v1 [production] (run 20261129-110000-dora" in result.output
    result = CliRunner().invoke(app, ["models", "promote", "latest", "-p", str(three_runs)])
    assert "v2 [production] (run 20261130-090000-lora" in result.output
    production = production_version(open_project_store(Project.load(three_runs)))
    assert production.run_path == str(three_runs / "runs" / "20261130-090000-lora")
    result = CliRunner().invoke(app, ["models", "promote", "v1", "-p", str(three_runs)])
    assert "v1 [production]" in result.output


def test_runs_show_and_delete_take_the_same_names(three_runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(app, ["runs", "show", "dora", "-p", str(three_runs), "--no-predict"])
    assert shown.exit_code == 0 and "20261129-110000-dora" in shown.output and "completed" in shown.output
    deleted = CliRunner().invoke(app, ["runs", "delete", "runs/20261129-110000-dora", "-p", str(three_runs), "-y"])
    assert deleted.exit_code == 0 and not (three_runs / "runs" / "20261129-110000-dora").exists()
