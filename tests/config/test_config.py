import pytest

from tunesmith.config import ProjectConfig, apply_overrides, load_config, parse_config, save_config
from tunesmith.errors import ConfigError


def test_defaults_round_trip(tmp_path):
    config = ProjectConfig()
    path = save_config(config, tmp_path)
    assert load_config(tmp_path) == config
    assert path.name == "tunesmith.yaml"


def test_unknown_key_suggests_nearest():
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rat'.*Did you mean 'learning_rate'"):
        parse_config({"training": {"learning_rat": 1e-4}})


def test_overrides_are_validated():
    config = apply_overrides(ProjectConfig(), ["training.learning_rate=1e-3", "model.max_length=128"])
    assert config.training.learning_rate == 1e-3 and config.model.max_length == 128
    with pytest.raises(ConfigError, match="max_length"):
        apply_overrides(ProjectConfig(), ["model.max_length=-3"])


def test_missing_and_broken_project_files(tmp_path):
    with pytest.raises(ConfigError, match="no project file"):
        load_config(tmp_path)
    (tmp_path / "tunesmith.yaml").write_text("model:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"tunesmith.yaml:\d+: invalid YAML"):
        load_config(tmp_path)
