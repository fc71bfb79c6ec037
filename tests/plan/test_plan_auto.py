"""`tunesmith plan` resolves "auto" training settings from the data, as training does, and shows them."""

from __future__ import annotations

from tunesmith.config import ProjectConfig
from tunesmith.plan import plan
from tunesmith.plan.report import summary_rows


def test_plan_sizes_a_classification_run_from_its_data(tiny_encoder_dir, fake_calibration):
    config = ProjectConfig.model_validate({"objective": {"task": "classification"}, "method": {"name": "full"},
                                          "model": {"name": str(tiny_encoder_dir), "max_length": 64}})
    result = plan(config, 8_000, [14] * 200, labels=150, calibration=fake_calibration, advise=False,
                  validation_examples=3_000)
    assert result.estimate.setting.batch_size == 32 and result.estimate.steps_per_epoch == 250
    assert result.total_steps == 500  # 2 epochs
    assert result.training == ("batch 32, learning rate found by a range test (1e-06 to 0.01), 2 epochs, validation "
                               "every 63 steps on 1024 stratified examples (all at the end), early stopping after 3 "
                               "without improvement")
    assert ("training", result.training) in summary_rows(result)
    chosen = config.model_copy(update={"training": config.training.model_copy(update={"batch_size": 8})})
    assert plan(chosen, 8_000, [14] * 200, labels=150, calibration=fake_calibration,
                advise=False).estimate.setting.batch_size == 8
