"""Bootstrap intervals and paired tests: seeded, sensible widths, right decisions."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.evaluate.stats import bootstrap_ci, paired_test, permutation_p_value


def test_bootstrap_ci_is_seeded_and_contains_the_mean():
    values = np.random.default_rng(1).random(200)
    a, b = bootstrap_ci(values, 500, seed=3), bootstrap_ci(values, 500, seed=3)
    assert a == b
    assert a.low < a.mean < a.high
    assert a.mean == pytest.approx(values.mean())
    # the percentile interval approximates mean ± 1.96 standard errors
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert a.high - a.low == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_bootstrap_ci_ignores_not_applicable_items():
    estimate = bootstrap_ci([1.0, float("nan"), 0.0], 200)
    assert estimate.n == 2 and estimate.mean == 0.5


def test_paired_test_detects_a_consistent_improvement():
    rng = np.random.default_rng(0)
    base = rng.random(60)
    better = np.clip(base + 0.2 + rng.normal(0, 0.05, 60), 0, 1.5)
    test = paired_test("m", "run", better, "base", base, samples=1000)
    assert test.significant and test.difference.low > 0
    assert test.p_value < 0.01


def test_paired_test_calls_noise_not_significant():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    test = paired_test("m", "run", a, "base", b, samples=1000)
    assert not test.significant
    assert test.difference.low < 0 < test.difference.high
    assert test.p_value > 0.05


def test_permutation_p_value_of_identical_contenders_is_one():
    assert permutation_p_value(np.zeros(10)) == 1.0
