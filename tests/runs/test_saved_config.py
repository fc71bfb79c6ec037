"""A run's config.yaml carries a schema version; older (or newer) ones load with warnings, never fail."""

from __future__ import annotations

import pytest
import yaml

from tunesmith.config import parse_config
from tunesmith.errors import ConfigError
from tunesmith.runs import SCHEMA_VERSION, RunFolder, load_run_config, saved_config, upgrade


def test_saved_configs_start_with_their_schema_version(tmp_path):
    from tunesmith.train.run_folder import write_config

    config = parse_config({"name": "p", "method": {"name": "dora", "r": 4}})
    write_config(tmp_path, config)
    text = (tmp_path / "config.yaml").read_text()
    assert text.startswith(f"schema_version: {SCHEMA_VERSION}\n")
    assert load_run_config(tmp_path / "config.yaml") == config


def test_unknown_settings_are_dropped_with_one_warning_each():
    data = {"schema_version": 1, "name": "p", "training": {"learning_rate": 1e-3, "lr_finder": True},
            "method": {"name": "lora", "r": 4, "rank_dropout": 0.1, "num_virtual_tokens": 20},
            "data": {"sources": [{"path": "a.jsonl", "charset": "utf-8"}]}, "telemetry": {"on": True}}
    config, warnings = upgrade(data, "runs/x/config.yaml")
    assert (config.training.learning_rate, config.method.r, config.data.sources[0].path) == (1e-3, 4, "a.jsonl")
    assert warnings == [f"runs/x/config.yaml: unknown setting '{key}' ignored (saved by another tunesmith version)"
                        for key in ("training.lr_finder", "method.rank_dropout", "data.sources[0].charset",
                                    "telemetry")]  # num_virtual_tokens at prompt tuning's default: harmless
    assert data["training"]["lr_finder"] is True  # the caller's mapping is left alone


def test_values_no_longer_accepted_take_the_default():
    config, warnings = upgrade({"training": {"epochs": -1, "scheduler": "polynomial", "batch_size": 2}})
    assert (config.training.epochs, config.training.scheduler, config.training.batch_size) == ("auto", "cosine", 2)
    assert [w.split(" is not valid")[0] for w in warnings] == ["config.yaml: 'training.epochs'",
                                                                "config.yaml: 'training.scheduler'"]


def test_renamed_settings_move_to_their_new_name(monkeypatch):
    monkeypatch.setattr(saved_config, "RENAMES", (saved_config.Rename(2, "training.lr", "training.learning_rate"),))
    config, warnings = upgrade({"schema_version": 1, "training": {"lr": 0.01}})
    assert config.training.learning_rate == 0.01 and warnings == ["config.yaml: setting 'training.lr' is now "
                                                                  "'training.learning_rate'"]
    newer, _ = upgrade({"schema_version": 2, "training": {"lr": 0.01}})  # saved after the rename: unknown, dropped
    assert newer.training.learning_rate == parse_config({}).training.learning_rate


def test_a_newer_schema_is_read_as_far_as_it_goes():
    config, warnings = upgrade({"schema_version": SCHEMA_VERSION + 1, "model": {"name": "x", "revision": "main"}})
    assert config.model.name == "x" and "saved by a newer tunesmith" in warnings[0] and len(warnings) == 2


def test_the_project_file_stays_strict():
    with pytest.raises(ConfigError, match="unknown key 'lr_finder'"):
        parse_config({"training": {"lr_finder": True}})


def test_an_old_run_with_a_removed_setting_still_loads(old_project, capsys):
    from tunesmith.train import load_run

    folder = RunFolder(next((old_project / "runs").iterdir()))
    saved = yaml.safe_load(folder.config_file.read_text())
    assert "schema_version" not in saved  # written before the key existed
    saved["training"]["warmup_steps"] = 10  # a setting some other version had
    saved["serve"]["export"]["parity_tokens"] = 4
    folder.config_file.write_text(yaml.safe_dump(saved))
    run = load_run(folder.path)
    assert run.config.training.warmup_ratio == 0.0 and run.info.method == "lora"
    err = capsys.readouterr().err
    assert "unknown setting 'training.warmup_steps' ignored" in err and "serve.export.parity_tokens" in err
