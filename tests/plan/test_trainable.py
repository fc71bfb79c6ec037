"""The planner's trainable-parameter count equals what each registered method really trains."""

from __future__ import annotations

import importlib.util

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.methods import all_methods, count_parameters
from tunesmith.plan.shapes import model_shape
from tunesmith.plan.trainable import trainable_params
from tunesmith.train.setup import prepare_model

LABELS = ["billing", "bug", "other"]
NO_BNB = importlib.util.find_spec("bitsandbytes") is None


def _methods(names: list[str]) -> list:
    """qlora needs bitsandbytes to build its model: skipped with the reason when it is missing."""
    skip = pytest.mark.skipif(NO_BNB, reason="qlora needs bitsandbytes (pip install 'tunesmith[qlora]')")
    return [pytest.param(name, marks=skip) if name == "qlora" else name for name in names]


@pytest.mark.parametrize("method", _methods([m.name for m in all_methods()]))
def test_decoder_counts_match_the_real_model(tiny_lm_dir, method):
    config = ProjectConfig.model_validate({"model": {"name": str(tiny_lm_dir)}, "method": {"name": method}})
    model, _, _, _ = prepare_model(config, "chat")
    trainable, total = count_parameters(model)
    shape = model_shape(str(tiny_lm_dir))
    assert trainable_params(shape, config.method) == trainable
    assert shape.total_params == (total if method == "full" else total - trainable)


@pytest.mark.parametrize("method", _methods([m.name for m in all_methods() if m.encoder_classification
                                             and "classification" in m.tasks]))
def test_encoder_classifier_counts_match_the_real_model(tiny_encoder_dir, method):
    config = ProjectConfig.model_validate({"objective": {"task": "classification"},
                                           "model": {"name": str(tiny_encoder_dir)}, "method": {"name": method}})
    model, _, _, _ = prepare_model(config, "classification", LABELS)
    trainable, _ = count_parameters(model)
    assert trainable_params(model_shape(str(tiny_encoder_dir)), config.method, len(LABELS)) == trainable
