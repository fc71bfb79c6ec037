import pytest

from tunesmith.config import ProjectConfig, parse_config
from tunesmith.config.method import OPTIONS
from tunesmith.config.presets import preset_overrides


def _apply(preset, examples, cores, method="lora"):
    base = ProjectConfig().model_dump(mode="json")
    base["method"] = {"name": method}
    extra = preset_overrides(preset, examples, cores, method)
    for section, values in extra.items():
        base[section] = {**base.get(section, {}), **values}
    return parse_config(base)


@pytest.mark.parametrize("method", list(OPTIONS))
@pytest.mark.parametrize("preset", ["quick", "balanced", "thorough"])
def test_every_preset_validates_for_every_method(preset, method):
    config = _apply(preset, 300, 2, method)
    assert config.method.name == method  # a preset never switches the method


def test_presets_scale_with_data_and_machine():
    quick, balanced, thorough = (_apply(p, 400, 2) for p in ("quick", "balanced", "thorough"))
    assert quick.training.max_steps <= 60 and quick.training.early_stopping_patience is None
    assert balanced.training.early_stopping_patience and thorough.training.epochs > balanced.training.epochs
    assert quick.method.r < balanced.method.r < thorough.method.r
    assert _apply("balanced", 400, 16).training.batch_size > balanced.training.batch_size
    assert _apply("balanced", 5000, 2).training.epochs < balanced.training.epochs
    assert _apply("quick", 400, 2, "full").training.learning_rate < quick.training.learning_rate
