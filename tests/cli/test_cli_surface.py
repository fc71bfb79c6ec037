"""One way to name things in every command, help in words, tables that keep names whole.

The command list is read from the Typer app, so a command added later is checked without editing this file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app

_register_commands()
ROOT = typer.main.get_command(app)
README = Path(__file__).resolve().parents[2] / "README.md"
RUN_PARAMS = {"run", "runs", "ref"}  # the parameter names of a run (ref: a version or a run)


def _commands(command=ROOT, path=()):
    """(path, command) of everything a user can invoke: leaf commands and groups that run on their own."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    if path and getattr(command, "invoke_without_command", False):
        yield path, command
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


COMMANDS = {" ".join(path): command for path, command in _commands()}


def _run_param(command):
    for param in command.params:
        if param.name in RUN_PARAMS and param.param_type_name == "argument":
            return "argument"
        if "--run" in getattr(param, "opts", []):
            return "option"
    return None


RUN_COMMANDS = {name: kind for name, command in COMMANDS.items() if (kind := _run_param(command))}


def test_the_command_list_is_complete():
    assert {"train", "eval", "export", "serve", "studio", "config", "monitor", "models", "runs list",
            "data prepare", "quickstart", "init"} <= set(COMMANDS)
    assert {"eval", "compare", "export", "reproduce", "runs show", "runs compare", "runs delete", "runs export",
            "models promote", "train"} <= set(RUN_COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_the_project_as_dash_p(name):
    options = [param for param in COMMANDS[name].params if param.param_type_name == "option"]
    assert any({"-p", "--project"} <= set(param.opts) for param in options), f"`tunesmith {name}` has no -p/--project"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_no_python_types(name):
    result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    types = re.findall(r"<(?:bool|str|int|float|path|file|dir|list\[[^>]*\]|\w+ range)>|list\[\w+\]", result.output)
    assert not types, f"`tunesmith {name} --help` shows {types}"
    hidden = [p for p in COMMANDS[name].params if getattr(p, "hidden", False) and p.param_type_name == "argument"]
    usage = result.output.split("Usage:", 1)[1].splitlines()[0]
    assert not [p for p in hidden if (p.metavar or p.name).lower() in usage.lower()], usage  # deprecated: unseen


class Resolved(Exception):
    pass


@pytest.fixture
def recorded_refs(monkeypatch):
    """Every module's `resolve_run` replaced by a recorder that stops the command right after naming the run."""
    import tunesmith.experiments.registry
    import tunesmith.runs

    original, calls = tunesmith.runs.resolve_run, []

    def record(ref, project_root=None):
        calls.append((str(ref), Path(project_root).resolve() if project_root is not None else None))
        raise Resolved(ref)

    for module in [m for m in sys.modules.values() if getattr(m, "__name__", "").startswith("tunesmith")]:
        if getattr(module, "resolve_run", None) is original:
            monkeypatch.setattr(module, "resolve_run", record)
    return calls


@pytest.mark.parametrize("name", sorted(RUN_COMMANDS))
def test_every_command_names_a_run_by_id_or_latest_in_the_project(name, recorded_refs, tmp_path, monkeypatch):
    from tunesmith.config import parse_config
    from tunesmith.project import Project

    project = Project.create(tmp_path / "proj", parse_config({"name": "proj"})).root
    monkeypatch.chdir(tmp_path)  # not the project: -p must be what finds it
    run = ["latest"] if RUN_COMMANDS[name] == "argument" else ["--run", "latest"]
    result = CliRunner().invoke(app, [*name.split(), *run, "-p", str(project)])
    assert isinstance(result.exception, Resolved), result.output
    assert recorded_refs[0] == ("latest", project.resolve())


def test_train_run_option_resolves_ids(tmp_path, capsys):
    from tunesmith.cli import main
    from tunesmith.config import parse_config
    from tunesmith.project import Project

    project = Project.create(tmp_path / "proj", parse_config({"name": "proj"})).root
    sys.argv = ["tunesmith", "train", "-p", str(project), "--run", "20260101-nowhere"]
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "no run '20260101-nowhere' in" in capsys.readouterr().err


def test_version(capsys):
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"tunesmith {version('tunesmith')}"


def test_the_old_positional_project_still_works(tmp_path):
    from tunesmith.config import parse_config
    from tunesmith.project import Project

    project = Project.create(tmp_path / "proj", parse_config({"name": "positional"})).root
    runner = CliRunner()
    new, old = runner.invoke(app, ["config", "-p", str(project)]), runner.invoke(app, ["config", str(project)])
    assert new.exit_code == old.exit_code == 0 and "name: positional" in new.output and new.output == old.output
    both = runner.invoke(app, ["config", str(project), "-p", str(tmp_path)])
    assert "two project folders" in str(both.exception)


def test_quickstart_help_quotes_the_readme_times():
    readme = README.read_text(encoding="utf-8")
    full = re.search(r"\| `make quickstart` .*?\*\*([\d.]+ min)\*\*", readme).group(1)
    fast = re.search(r"\| `make quickstart ARGS=--fast` .*?\*\*([\d.]+ min)\*\*", readme).group(1)
    help_text = " ".join(CliRunner().invoke(app, ["quickstart", "--help"], env={"COLUMNS": "300"}).output.split())
    assert full in help_text and fast in help_text, (full, fast, help_text)


def _rendered(args, tmp_path=None) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    width = max(len(line) for line in result.output.splitlines())
    assert width <= 100, f"COLUMNS=100 ignored: {width} columns"
    return result.output


def test_models_table_keeps_names_whole_at_100_columns():
    from tunesmith.models.catalog import CATALOG

    output = _rendered(["models"])
    for name in CATALOG:
        assert re.search(rf"│ {re.escape(name)}\s", output), f"{name} is broken at 100 columns:\n{output}"


def test_runs_list_keeps_ids_whole_at_100_columns(tmp_path):
    import json

    from tunesmith.config import parse_config
    from tunesmith.project import Project

    project = Project.create(tmp_path / "proj", parse_config({"name": "proj"})).root
    run_id = "20261206-152322-lora-with-a-long-label-7"
    folder = project / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("model:\n  name: tiny\nmethod:\n  name: lora\n")
    (folder / "run.json").write_text(json.dumps({
        "status": "completed", "method": "lora", "dataset_version": "0123456789abcdef", "steps": 12, "seconds": 3.0,
        "metrics": {"train_loss": 1.234567, "val_loss": 2.345678}}))
    output = _rendered(["runs", "list", "-p", str(project)])
    assert run_id in output and "0123456789ab" in output, output
