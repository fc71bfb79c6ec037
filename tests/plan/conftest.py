"""Planner fixtures: tiny Llamas of three sizes and a made-up calibration for pure-logic tests."""

from __future__ import annotations

import pytest

from tunesmith.plan.calibrate import Calibration
from tunesmith.plan.speed import Rates

SIZES = ({"hidden": 64, "layers": 2}, {"hidden": 128, "layers": 4}, {"hidden": 256, "layers": 6})


@pytest.fixture(scope="session")
def tiny_lms(tmp_path_factory):
    """Three tiny causal LMs (hidden × layers: 64×2, 128×4, 256×6) as Hugging Face folders."""
    from tunesmith.models.tiny import save_tiny

    return [save_tiny("causal-lm", tmp_path_factory.mktemp(f"lm-{s['hidden']}"), **s) for s in SIZES]


@pytest.fixture
def fake_calibration():
    """Plausible single-thread rates; for tests of the planner's logic, not its accuracy."""
    rates = Rates(matmul_flops=1e11, logit_seconds=9e-9, head_seconds=4e-11, elementwise_seconds=8e-10,
                  optimizer_seconds=4e-9, block_seconds=2.5e-3, correction=1.0)
    return Calibration(rates, process_baseline=5e8, machine={"cpu": "test"})
