"""Non-finite numbers: refused in the config, and a run that diverges stops, fails and is never 'completed'."""

import json
import types
import typing

import pytest
from pydantic import BaseModel
from train_helpers import chat_records, error_line, run_cli, tiny_config, write_project

from tunesmith.config import ProjectConfig, apply_overrides, parse_config
from tunesmith.config.method import OPTIONS
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.train import load_run, run_training


def _is_float(annotation) -> bool:
    if annotation is float:
        return True
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and float in typing.get_args(annotation)


def _float_settings(model: type, prefix: str = "") -> list[str]:
    """Every float setting of a config section, as the dotted keys --set takes."""
    keys = []
    for name, field in model.model_fields.items():
        if _is_float(field.annotation):
            keys.append(prefix + name)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):  # a nested section
            keys += _float_settings(field.annotation, f"{prefix}{name}.")
    return keys


def _every_float_setting() -> list[tuple[str, list[str]]]:
    """(key, the overrides that set it) for the project schema, each method's options and each objective's."""
    found = [(key, []) for key in _float_settings(ProjectConfig) if not key.startswith("method.")]
    for method, options in OPTIONS.items():
        found += [(f"method.{key}", [f"method.name={method}"]) for key in _float_settings(options)]
    return found


FLOATS = _every_float_setting()


def test_the_schema_has_float_settings_to_check():
    keys = [key for key, _ in FLOATS]
    assert {"training.learning_rate", "training.warmup_ratio", "method.dropout"} <= set(keys)
    assert any(key.startswith("preference.") for key in keys)


@pytest.mark.parametrize("value", ["inf", "-.inf", "nan", "1e400"])
def test_every_non_finite_float_setting_is_a_config_error_naming_the_key(value):
    accepted = []
    for key, setup in FLOATS:
        try:
            apply_overrides(parse_config({}), [*setup, f"{key}={value}"])
            accepted.append(key)
        except ConfigError as err:
            assert f"{key}: " in err.message and "finite" in err.message, err.message
            assert "\n" not in str(err)
    assert not accepted, f"{value} accepted for {accepted}"


def test_inf_learning_rate_is_refused_by_train_before_anything_runs(tiny_lm_dir, tmp_path, capsys):
    write_project(tmp_path / "proj", tiny_lm_dir, max_steps=2)
    code, stderr = run_cli(capsys, "train", tmp_path / "proj", "--set", "training.learning_rate=inf")
    assert code == 2
    assert "training.learning_rate" in error_line(stderr) and "finite" in error_line(stderr)
    assert not (tmp_path / "proj" / "runs").exists()


def test_a_diverging_run_fails_at_that_step_exits_2_and_cannot_be_resumed_as_a_success(tiny_lm_dir, tmp_path, capsys):
    # A huge but finite learning rate: step 1 is fine, its update sends the weights to inf, and the
    # validation after step 1 (eval_every 1) sees NaN before any checkpoint is written.
    project = tmp_path / "proj"
    write_project(project, tiny_lm_dir, max_steps=6, eval_every=1)
    code, stderr = run_cli(capsys, "train", project, "--set", "training.learning_rate=1e30")
    assert code == 2, stderr
    line = error_line(stderr)
    assert "diverged at step 1" in line and "training.learning_rate" in line and "completed" not in stderr
    (run,) = (project / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "diverged at step 1" in info["error"]
    assert not list((run / "checkpoints").glob("step-*")) if (run / "checkpoints").exists() else True
    with pytest.raises(TunesmithError, match="failed"):
        load_run(run)  # what serve, export and evaluate load through
    code, stderr = run_cli(capsys, "train", project, "--resume")
    assert code == 2 and "complete checkpoint" in error_line(stderr)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(("learning_rate", "eval_every", "validation", "what"), [
    # Adam's first update moves each weight by about the learning rate: 1e30 leaves huge finite weights whose
    # forward pass overflows at step 2; 1e39 is beyond float32, so the weights themselves become inf.
    (1e30, 5, 6, "the training loss is nan"),
    (1e39, 1, 0, "the trained weights hold inf or NaN"),  # no validation: caught before the step-1 checkpoint
])
def test_divergence_is_caught_before_a_checkpoint_holds_it(tiny_lm_dir, tmp_path, learning_rate, eval_every,
                                                            validation, what):
    config = tiny_config(tiny_lm_dir, learning_rate=learning_rate, eval_every=eval_every, max_steps=4)
    run_dir = tmp_path / "run"
    step = 2 if eval_every == 5 else 1
    with pytest.raises(TunesmithError, match=f"diverged at step {step}: {what}"):
        run_training(config, chat_records(16), chat_records(validation, seed=2), run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and what in info["error"] and "\n" not in info["error"]
    assert not list(run_dir.glob("checkpoints/step-*"))
