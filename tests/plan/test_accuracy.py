"""Acceptance: predicted peak RSS and time per step are within ±25% of a real LoRA training step,
measured in a fresh process, on tiny models of three sizes (the bundled model: bench/planner_accuracy.py
and the slow test below)."""

from __future__ import annotations

import pytest

from tunesmith.config.method import method_config
from tunesmith.plan.calibrate import calibrate
from tunesmith.plan.measure import measure_step
from tunesmith.plan.memory import StepShape, peak_memory
from tunesmith.plan.shapes import model_shape
from tunesmith.plan.speed import step_seconds

TOLERANCE = 0.25
STEPS = ((4, 96), (8, 64), (4, 128))  # (batch, sequence length) per model size; logits beyond the CPU cache


def predicted_and_measured(model_dir, calibration, batch_size: int, seq_len: int) -> dict:
    measured = measure_step(str(model_dir), batch_size=batch_size, seq_len=seq_len, steps=4, threads=1,
                            method={"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05})
    shape, method = model_shape(str(model_dir)), method_config("lora", r=16, alpha=32, dropout=0.05)
    step = StepShape(batch_size, seq_len, measured["targets"])
    memory = peak_memory(shape, method, step, measured["trainable"], measured["total"], calibration.process_baseline)
    seconds = step_seconds(shape, method, step, measured["trainable"], calibration.rates)
    return {"memory": (memory.peak, measured["peak_rss"]), "seconds": (seconds, measured["step_cpu_seconds"])}


@pytest.fixture(scope="module")
def fresh_calibration(tmp_path_factory):
    return calibrate(force=True, path=tmp_path_factory.mktemp("calibration") / "calibration.json")


def test_three_tiny_sizes_within_25_percent(tiny_lms, fresh_calibration):
    errors = {}
    for folder, (batch, length) in zip(tiny_lms, STEPS, strict=True):
        result = predicted_and_measured(folder, fresh_calibration, batch, length)
        for quantity, (predicted, actual) in result.items():
            errors[f"{folder.name} {quantity}"] = predicted / actual - 1
    assert all(abs(e) <= TOLERANCE for e in errors.values()), errors


@pytest.mark.slow
def test_bundled_model_within_25_percent(fresh_calibration):
    from tunesmith.models.catalog import resolve

    result = predicted_and_measured(resolve("smollm2-135m-instruct").path, fresh_calibration, 4, 128)
    errors = {q: p / a - 1 for q, (p, a) in result.items()}
    assert all(abs(e) <= TOLERANCE for e in errors.values()), errors
