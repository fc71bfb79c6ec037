"""Uncertainty: seeded bootstrap confidence intervals and paired tests between contenders."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    metric: str
    a: str  # usually the fine-tuned run
    b: str  # usually a baseline
    difference: Estimate  # mean(a - b) with its bootstrap CI
    p_value: float  # two-sided sign-flip permutation test

    @property
    def significant(self) -> bool:
        return self.difference.low > 0 or self.difference.high < 0

    def to_dict(self) -> dict:
        return {"metric": self.metric, "a": self.a, "b": self.b, "difference": self.difference.to_dict(),
                "p_value": self.p_value, "significant": self.significant}


def _clean(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[~np.isnan(arr)]


def bootstrap_ci(values, samples: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
    """Percentile bootstrap CI of the mean; NaN items (metric not applicable) are left out."""
    arr = _clean(values)
    if arr.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(samples, arr.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(float(arr.mean()), float(low), float(high), int(arr.size))


def paired_test(metric: str, a_name: str, a_values, b_name: str, b_values, samples: int = 1000,
                seed: int = 0, level: float = 0.95) -> PairedTest:
    """Compare two contenders item by item: bootstrap CI of the mean difference and a permutation p-value."""
    a, b = np.asarray(a_values, dtype=float), np.asarray(b_values, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = a[keep] - b[keep]
    estimate = bootstrap_ci(diff, samples, seed, level)
    return PairedTest(metric, a_name, b_name, estimate, permutation_p_value(diff, samples, seed))


def permutation_p_value(diff, samples: int = 1000, seed: int = 0) -> float:
    """Two-sided sign-flip test: under H0 each paired difference is as likely positive as negative."""
    diff = _clean(diff)
    if diff.size == 0 or not np.any(diff):
        return 1.0
    rng = np.random.default_rng(seed + 1)
    signs = rng.choice([-1.0, 1.0], size=(samples, diff.size))
    null = np.abs((signs * diff).mean(axis=1))
    observed = abs(diff.mean())
    # +1 smoothing: a p-value of exactly 0 is never justified by a finite number of permutations.
    return float((np.sum(null >= observed - 1e-12) + 1) / (samples + 1))
