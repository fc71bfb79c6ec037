"""Acceptance on a machine that may be busy: the predicted peak RSS of a real LoRA training step is within ±25%
of the measured one (memory does not depend on what else runs). Time depends on what else runs, so it is
measured by benchmarks, not tests: bench/planner_accuracy.py (seconds per step) and bench/planner_ratios.py
(ratios between sizes and objectives); here the time model is only checked for its arithmetic."""

from __future__ import annotations

import pytest

from tunesmith.config.method import method_config
from tunesmith.plan.calibrate import Calibration, calibrate
from tunesmith.plan.measure import measure_step
from tunesmith.plan.memory import StepShape, peak_memory
from tunesmith.plan.shapes import model_shape
from tunesmith.plan.speed import step_seconds

TOLERANCE = 0.25
STEPS = ((4, 96), (8, 64), (4, 128))  # (batch, sequence length) per model size; logits beyond the CPU cache
LORA = {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05}


def predicted(model_dir, calibration: Calibration, batch_size: int, seq_len: int, measured: dict,
              checkpointing: bool = False) -> dict:
    shape, method = model_shape(str(model_dir)), method_config(**LORA)
    step = StepShape(batch_size, seq_len, measured["targets"])
    memory = peak_memory(shape, method, step, measured["trainable"], measured["total"], calibration.baseline("lora"),
                         checkpointing=checkpointing)
    return {"memory": memory.peak, "seconds": step_seconds(shape, method, step, measured["trainable"],
                                                           calibration.rates)}


def memory_errors(cases, calibration: Calibration) -> dict:
    """Predicted / measured - 1 of peak RSS, each case measured in a fresh process."""
    errors = {}
    for model_dir, batch, length in cases:
        measured = measure_step(str(model_dir), batch_size=batch, seq_len=length, steps=3, threads=1, method=LORA)
        errors[f"{model_dir.name} {batch}×{length}"] = \
            predicted(model_dir, calibration, batch, length, measured)["memory"] / measured["peak_rss"] - 1
    return errors


@pytest.fixture(scope="module")
def fresh_calibration(tmp_path_factory):
    return calibrate(force=True, path=tmp_path_factory.mktemp("calibration") / "calibration.json")


def test_three_tiny_sizes_peak_memory_within_25_percent(tiny_lms, fresh_calibration):
    errors = memory_errors([(d, b, n) for d, (b, n) in zip(tiny_lms, STEPS, strict=True)], fresh_calibration)
    assert all(abs(e) <= TOLERANCE for e in errors.values()), errors


def test_checkpointing_peak_memory_within_25_percent(tiny_lms, fresh_calibration):
    """Activations dominate here (8,192 tokens, 2 % of them carrying loss). Checkpointing keeps one block's saved
    tensors, but the C allocator still keeps a share of every block's forward tensors: a model without that
    retention under-predicted this peak by 31 % (and SmolLM2-135M's quickstart step by 37 %)."""
    measured = measure_step(str(tiny_lms[-1]), batch_size=32, seq_len=256, target_share=0.02, steps=2, threads=1,
                            method=LORA, checkpointing=True)
    memory = predicted(tiny_lms[-1], fresh_calibration, 32, 256, measured, checkpointing=True)["memory"]
    assert abs(memory / measured["peak_rss"] - 1) <= TOLERANCE, (memory, measured["peak_rss"])


def test_predicted_step_time_grows_with_the_work_of_a_step(tiny_lms, fake_calibration):
    """Bigger models and more tokens cost more; a doubled batch costs about twice as much (deterministic)."""
    shape, method = model_shape(str(tiny_lms[-1])), method_config(**LORA)
    one, two = StepShape(4, 128, 256), StepShape(8, 128, 512)
    single = step_seconds(shape, method, one, 10_000, fake_calibration.rates)
    assert 1.8 < step_seconds(shape, method, two, 10_000, fake_calibration.rates) / single <= 2.0
    sizes = [step_seconds(model_shape(str(d)), method, one, 10_000, fake_calibration.rates) for d in tiny_lms]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3


@pytest.mark.slow
@pytest.mark.timeout(1800)  # real training steps: a busy machine stretches them
def test_bundled_model_peak_memory_within_25_percent(tiny_lms, fresh_calibration):
    from tunesmith.models.catalog import resolve

    bundled = resolve("smollm2-135m-instruct").path
    errors = memory_errors([(bundled, 4, 128)], fresh_calibration)
    assert all(abs(e) <= TOLERANCE for e in errors.values()), errors
