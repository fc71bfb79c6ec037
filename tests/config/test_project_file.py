"""tunesmith.yaml holds the user's choices only; loading it gives the same resolved config as before."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from tunesmith.config import (
    PROJECT_FILE,
    ProjectConfig,
    apply_overrides,
    as_edit,
    choices,
    load_config,
    parse_config,
    save_config,
)
from tunesmith.config.data import SourceConfig


def saved_lines(folder) -> list[str]:
    return (folder / PROJECT_FILE).read_text(encoding="utf-8").splitlines()


def old_init_config(folder, task, model, method, sources):
    """What `init` wrote before: every default of every section, spelled out (a file of ~200 lines)."""
    full = ProjectConfig.model_validate({
        "name": folder.resolve().name,
        "objective": {"task": task, "description": "Route tickets", "users": "agents",
                      "expected_output": "a queue name"},
        "data": {"sources": [{"path": path} for path in sources]},
        "model": {"name": model}, "method": {"name": method},
    }).model_dump(mode="json")
    return parse_config(full)


@pytest.mark.parametrize(("task", "model", "method"), [("chat", "smollm2-135m-instruct", "lora"),
                                                         ("classification", "minilm-l6", "full")])
def test_init_writes_the_choices_and_resolves_as_before(tmp_path, task, model, method):
    from tunesmith.cli import _register_commands, app

    _register_commands()
    folder = tmp_path / "bot"
    result = CliRunner().invoke(app, ["init", "-p", str(folder), "--task", task, "--description", "Route tickets",
                                      "--users", "agents", "--expected-output", "a queue name",
                                      "--data", "tickets.csv", "--data", "more.jsonl"])
    assert result.exit_code == 0, result.output
    lines = saved_lines(folder)
    assert len(lines) <= 25, "\n".join(lines)
    assert lines[0].startswith("#") and any("tunesmith config" in line for line in lines if line.startswith("#"))
    assert load_config(folder) == old_init_config(folder, task, model, method, ["tickets.csv", "more.jsonl"])
    written = yaml.safe_load("\n".join(lines))
    assert written["model"] == {"name": model} and written["method"] == {"name": method}  # what the recipe chose
    assert "finetune_api" not in written and "test_share" not in written["data"]  # defaults stay in the schema


def test_a_full_old_file_still_loads_and_keeps_its_values(tmp_path):
    full = ProjectConfig().model_dump(mode="json")
    full["data"]["test_share"] = 0.0  # an old default, now an explicit choice
    (tmp_path / PROJECT_FILE).write_text(yaml.safe_dump(full, sort_keys=False))
    config = load_config(tmp_path)
    assert config.data.test_share == 0.0
    save_config(config, tmp_path)  # its values were written by the user's file: they stay choices
    lines = saved_lines(tmp_path)
    assert load_config(tmp_path) == config and "  test_share: 0.0" in lines and "finetune_api:" in lines


@pytest.mark.parametrize("overrides", [
    [],
    ["training.epochs=2", "model.max_length=128"],
    ["method.name=full"],
    ["method.name=ia3"],
    ["method.r=8", "method.alpha=16"],
    ["tune.search_space={training.learning_rate: {low: 0.001, high: 0.1, log: true}}"],
    ["finetune_api.model_map={gpt-4o-mini: smollm2-135m-instruct}"],
    ["evaluation.checks=[{name: greet, kind: keyword, keywords: [hello]}]"],
    ["serve.api_keys=[k1]", "training.report_to=[tensorboard]"],
])
def test_saving_writes_only_choices_and_loads_back_unchanged(tmp_path, overrides):
    config = apply_overrides(parse_config({"name": "p", "data": {"sources": [{"path": "a.jsonl"}]}}), overrides)
    save_config(config, tmp_path)
    assert load_config(tmp_path) == config
    written = yaml.safe_load((tmp_path / PROJECT_FILE).read_text()) or {}
    for item in overrides:
        section, key = item.split("=", 1)[0].split(".")[:2]
        assert key in written[section], (item, written)
    assert written["data"]["sources"] == [{"path": "a.jsonl"}]  # a source keeps only what was given


def test_overrides_keep_the_choices_of_the_config():
    config = apply_overrides(parse_config({"name": "p", "training": {"epochs": 1}}), ["model.max_length=64"])
    assert choices(config) == {"name": "p", "training": {"epochs": 1.0}, "model": {"max_length": 64}}
    assert choices(ProjectConfig()) == {}


def test_a_switched_method_is_written_with_its_name():
    config = apply_overrides(ProjectConfig(), ["method.name=prompt"])
    assert choices(config) == {"method": {"name": "prompt"}}
    assert parse_config(choices(config)) == config


def test_a_list_changed_in_place_is_saved(tmp_path):
    config = parse_config({"name": "p"})
    config.data.sources.append(SourceConfig(path="uploaded.csv"))  # how the studio adds an uploaded file
    save_config(config, tmp_path)
    assert load_config(tmp_path).data.sources[0].path == "uploaded.csv"


def test_a_form_that_shows_every_setting_saves_only_what_changed(tmp_path):
    previous = parse_config({"name": "p", "training": {"epochs": 1}, "model": {"max_length": 512}})
    every = previous.model_dump(mode="json")  # a settings panel rebuilds the whole config from its fields
    every["serve"]["port"] = 9001
    every["model"]["max_length"] = ProjectConfig().model.max_length  # back to the default: still a choice
    edited = as_edit(previous, parse_config(every))
    assert edited == parse_config(every)
    assert choices(edited) == {"name": "p", "model": {"max_length": ProjectConfig().model.max_length},
                               "training": {"epochs": 1.0}, "serve": {"port": 9001}}
    save_config(edited, tmp_path)
    assert len(saved_lines(tmp_path)) <= 12 and load_config(tmp_path) == edited


def test_config_command_shows_the_resolved_whole(tmp_path):
    from tunesmith.cli import _register_commands, app

    _register_commands()
    save_config(parse_config({"name": "p"}), tmp_path)
    shown = yaml.safe_load(CliRunner().invoke(app, ["config", "-p", str(tmp_path)]).output)
    assert shown == ProjectConfig(name="p").model_dump(mode="json")


def test_a_retired_setting_is_a_warning_and_an_unknown_one_an_error(tmp_path, capsys):
    from tunesmith.errors import ConfigError

    (tmp_path / "tunesmith.yaml").write_text("training:\n  overfit_gap: 0.25\n  epochs: 2\n")
    assert load_config(tmp_path).training.epochs == 2
    assert "'training.overfit_gap' is no longer a setting" in capsys.readouterr().err
    (tmp_path / "tunesmith.yaml").write_text("training:\n  overfit_gapp: 0.25\n")
    with pytest.raises(ConfigError, match="unknown key 'overfit_gapp'"):
        load_config(tmp_path)
