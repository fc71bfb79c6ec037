"""The planner's objective terms: a DPO pair trains two sequences, objectives with a reference model score every
sequence once before training, KTO runs its KL baseline forward each step. Memory is predicted against real steps
of a tiny model as a ratio to SFT; time ratios are measured by bench/planner_ratios.py (load moves them)."""

from __future__ import annotations

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.config.method import method_config
from tunesmith.objectives import get_objective
from tunesmith.plan import plan
from tunesmith.plan.calibrate import calibrate
from tunesmith.plan.measure import measure_step
from tunesmith.plan.memory import StepShape, peak_memory
from tunesmith.plan.shapes import model_shape
from tunesmith.plan.workload import objective_work

TOLERANCE = 0.25
LENGTHS = [40 + (i * 37) % 200 for i in range(64)]
LORA = {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05}


def estimate(model_dir, calibration, objective: str):
    config = ProjectConfig.model_validate({"model": {"name": str(model_dir), "max_length": 256},
                                           "training": {"batch_size": 8, "epochs": 2, "objective": objective}})
    return plan(config, 64, LENGTHS, calibration=calibration, advise=False)


def test_each_objective_adds_its_passes(tiny_lm_dir, fake_calibration):
    sft, dpo, orpo, kto = (estimate(tiny_lm_dir, fake_calibration, name) for name in ("sft", "dpo", "orpo", "kto"))
    assert dpo.estimate.peak_memory > sft.estimate.peak_memory and dpo.estimate.memory["logits"] == pytest.approx(
        2 * sft.estimate.memory["logits"], rel=0.05)
    assert 1.5 < dpo.estimate.seconds_per_step / sft.estimate.seconds_per_step <= 2.0
    assert dpo.estimate.steps_per_epoch == sft.estimate.steps_per_epoch  # a step still takes batch_size pairs
    assert sft.estimate.reference_seconds == orpo.estimate.reference_seconds == 0  # no reference model
    assert orpo.estimate.seconds_per_step == pytest.approx(dpo.estimate.seconds_per_step)
    assert dpo.estimate.reference_seconds > 0
    assert dpo.total_seconds == pytest.approx(dpo.total_steps * dpo.estimate.seconds_per_step
                                              + dpo.estimate.reference_seconds)
    assert kto.estimate.peak_memory == pytest.approx(sft.estimate.peak_memory)  # its KL pass keeps nothing
    assert sft.estimate.seconds_per_step < kto.estimate.seconds_per_step < dpo.estimate.seconds_per_step


@pytest.fixture(scope="module")
def fresh_calibration(tmp_path_factory):
    return calibrate(force=True, path=tmp_path_factory.mktemp("calibration") / "calibration.json")


def test_dpo_memory_against_sft_within_25_percent(tiny_lms, fresh_calibration):
    """Memory only: time ratios depend on other load and are measured by bench/planner_ratios.py."""
    model_dir, batch, length = tiny_lms[-1], 4, 128  # hidden 256 x 6 layers: logits beyond the CPU cache
    shape, method = model_shape(str(model_dir)), method_config(**LORA)
    measured = {objective: measure_step(str(model_dir), method=LORA, batch_size=batch, seq_len=length, steps=2,
                                        objective=objective) for objective in ("sft", "dpo")}
    sft_step = StepShape(batch, length, measured["sft"]["targets"])
    planned = {objective: peak_memory(shape, method, objective_work(sft_step, get_objective(objective)).trained,
                                      measured["sft"]["trainable"], measured["sft"]["total"],
                                      fresh_calibration.baseline("lora")).peak for objective in ("sft", "dpo")}
    error = (planned["dpo"] / planned["sft"]) / (measured["dpo"]["peak_rss"] / measured["sft"]["peak_rss"]) - 1
    assert abs(error) <= TOLERANCE, error
