"""Uncertainty: 95% intervals and paired tests that never claim more certainty than the sample holds.

0/1 outcomes get a Wilson score interval; their paired differences Newcombe's hybrid score interval and an
exact McNemar p-value. Other metrics get a seeded BCa bootstrap interval and a sign-flip permutation test.
No finite sample gets an interval of zero width: n identical values get a Clopper–Pearson bound on the share
of items that could differ. Every Estimate names its method, so the reports can say which one they show.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np


def _scipy_stats():
    """scipy.stats, imported on first use: training imports this package (evaluate.overfitting), and scipy.stats
    at import would cost every training process ~65 MB of resident memory."""
    from scipy import stats

    return stats


WILSON = "Wilson score"
NEWCOMBE = "Newcombe hybrid score"
MCNEMAR = "exact McNemar"
SIGN_FLIP_EXACT = "exact sign-flip (every sign pattern)"
ALL_EQUAL = "Clopper–Pearson bound (all values equal)"
NOT_ESTIMABLE = "none (all values equal, metric unbounded)"
NAN = float("nan")
# Resamples per vectorised call: scipy's BCa jackknife holds batch × n values, not n × n.
_BATCH = 200


def bootstrap_method(samples: int, bca: bool = True) -> str:
    name = "BCa bootstrap" if bca else "percentile bootstrap, BCa undefined"
    return f"{name} ({samples} resamples)"


def sign_flip_method(samples: int) -> str:
    return f"sign-flip permutation ({samples} resamples)"


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int
    method: str = ""  # how low/high were found; empty when nothing was measured

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    metric: str
    a: str  # usually the fine-tuned run
    b: str  # usually a baseline
    difference: Estimate  # mean(a - b) with its interval
    p_value: float  # two-sided
    p_method: str = ""
    resamples: int | None = None  # Monte-Carlo p-values only: the smallest such p is 1/(resamples + 1)

    @property
    def significant(self) -> bool:
        return self.difference.low > 0 or self.difference.high < 0

    @property
    def p_at_floor(self) -> bool:
        return self.resamples is not None and self.p_value <= 1 / (self.resamples + 1) * (1 + 1e-9)

    @property
    def p_text(self) -> str:
        """`p = 0.032`, or `p ≤ 0.000999 (1/1001)` where a resampling test cannot tell a smaller p apart."""
        if self.p_at_floor:
            return f"p ≤ {1 / (self.resamples + 1):.3g} (1/{self.resamples + 1})"
        return f"p = {format_p(self.p_value)}"

    def to_dict(self) -> dict:
        return {"metric": self.metric, "a": self.a, "b": self.b, "difference": self.difference.to_dict(),
                "p_value": self.p_value, "p_method": self.p_method, "p_text": self.p_text,
                "resamples": self.resamples, "significant": self.significant}


def format_p(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _clean(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[~np.isnan(arr)]


def is_binary(values) -> bool:
    arr = _clean(values)
    return bool(np.all((arr == 0) | (arr == 1)))


def mean_interval(values, samples: int = 1000, seed: int = 0, level: float = 0.95, *, binary: bool | None = None,
                  bounds: tuple[float, float] | None = None) -> Estimate:
    """Interval of the mean; NaN items (metric not applicable) are left out.

    `binary`: the values are 0/1 outcomes (None: decide from the values). `bounds`: the metric's range,
    used only when every value is equal and the spread has to come from the range instead.
    """
    arr = _clean(values)
    if arr.size == 0:
        return Estimate(NAN, NAN, NAN, 0)
    if binary is None:
        binary = is_binary(arr)
    if binary:
        if not is_binary(arr):
            raise ValueError("binary=True needs values that are all 0 or 1")
        return proportion_interval(int(arr.sum()), int(arr.size), level)
    return bootstrap_interval(arr, samples, seed, level, bounds)


def proportion_interval(successes: int, n: int, level: float = 0.95) -> Estimate:
    """Wilson score interval: never zero width, and 31/31 gives [0.890, 1] rather than [1, 1]."""
    ci = _scipy_stats().binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return Estimate(successes / n, float(ci.low), float(ci.high), n, WILSON)


def bootstrap_interval(values, samples: int = 1000, seed: int = 0, level: float = 0.95,
                       bounds: tuple[float, float] | None = None) -> Estimate:
    """scipy's BCa bootstrap of the mean, seeded; percentile bootstrap where BCa is undefined."""
    arr = _clean(values)
    mean = float(arr.mean())
    if np.ptp(arr) <= 1e-12 * max(1.0, abs(mean)):  # equal up to float rounding (a+0.2 - a is not always 0.2)
        return all_equal_interval(mean, arr.size, level, bounds)
    for bca in (True, False):
        with warnings.catch_warnings():
            # BCa's acceleration is 0/0 on some near-constant samples: the NaN bounds are checked below.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", _scipy_stats().DegenerateDataWarning)
            ci = _scipy_stats().bootstrap((arr,), np.mean, n_resamples=samples, confidence_level=level, batch=_BATCH,
                                 method="BCa" if bca else "percentile", rng=np.random.default_rng(seed))
        low, high = float(ci.confidence_interval.low), float(ci.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high) and low < high:
            break
    return Estimate(mean, low, high, int(arr.size), bootstrap_method(samples, bca))


def all_equal_interval(value: float, n: int, level: float = 0.95,
                       bounds: tuple[float, float] | None = None) -> Estimate:
    """n identical values have no spread to resample. None of n items differed, so Clopper–Pearson bounds
    the share that could; each such item lies at most the metric's range away. Unbounded: no interval."""
    if bounds is None:
        return Estimate(value, NAN, NAN, n, NOT_ESTIMABLE)
    share = float(_scipy_stats().binomtest(0, n).proportion_ci(confidence_level=level, method="exact").high)
    low, high = bounds
    return Estimate(value, value - share * (value - low), value + share * (high - value), n, ALL_EQUAL)


def _table(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    """(both 1, only a, only b, both 0) of paired 0/1 outcomes."""
    return (int(np.sum((a == 1) & (b == 1))), int(np.sum((a == 1) & (b == 0))),
            int(np.sum((a == 0) & (b == 1))), int(np.sum((a == 0) & (b == 0))))


def proportion_difference(a, b, level: float = 0.95) -> Estimate:
    """Newcombe's (1998) hybrid score interval for p(a) - p(b) on paired 0/1 outcomes: the two Wilson
    intervals combined with the pairs' correlation φ. φ gets Newcombe's continuity correction, which keeps
    it below 1, so even identical outcomes on every item leave an interval of positive width."""
    both, only_a, only_b, neither = _table(np.asarray(a), np.asarray(b))
    n = both + only_a + only_b + neither
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    w1, w2 = proportion_interval(both + only_a, n, level), proportion_interval(both + only_b, n, level)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b
    phi = 0.0 if margins == 0 else (cross - n / 2 if cross > n / 2 else min(cross, 0)) / math.sqrt(margins)

    def spread(x: float, y: float) -> float:
        return math.sqrt(max(x * x - 2 * phi * x * y + y * y, 0.0))

    diff = p1 - p2
    low = diff - spread(p1 - w1.low, w2.high - p2)
    high = diff + spread(w1.high - p1, p2 - w2.low)
    return Estimate(diff, max(-1.0, low), min(1.0, high), n, NEWCOMBE)


def mcnemar_p_value(a, b) -> float:
    """Exact McNemar: under H0 each discordant pair is as likely to favour a as b (a binomial test)."""
    _, only_a, only_b, _ = _table(np.asarray(a), np.asarray(b))
    if only_a + only_b == 0:
        return 1.0
    return float(_scipy_stats().binomtest(only_a, only_a + only_b, 0.5).pvalue)


def _sign_flip_is_exact(n: int, samples: int) -> bool:
    return 2 ** n <= samples


def permutation_p_value(diff, samples: int = 1000, seed: int = 0) -> float:
    """Two-sided sign-flip test: under H0 each paired difference is as likely positive as negative.
    Exact (every sign pattern) when 2^n <= samples, else Monte-Carlo with `samples` random patterns."""
    diff = _clean(diff)
    if diff.size == 0 or not np.any(diff):
        return 1.0
    observed = abs(diff.mean())
    tolerance = 1e-9 * max(1.0, observed)  # float sums of the same terms in another order
    if _sign_flip_is_exact(diff.size, samples):
        patterns = np.arange(2 ** diff.size)[:, None] >> np.arange(diff.size) & 1
        null = np.abs(((1 - 2 * patterns) * diff).mean(axis=1))
        return float(np.mean(null >= observed - tolerance))
    rng = np.random.default_rng(seed + 1)
    signs = rng.choice([-1.0, 1.0], size=(samples, diff.size))
    null = np.abs((signs * diff).mean(axis=1))
    # +1: the observed pattern is one of the permutations, so a p of 0 is never justified (floor 1/(B+1)).
    return float((np.sum(null >= observed - tolerance) + 1) / (samples + 1))


def paired_test(metric: str, a_name: str, a_values, b_name: str, b_values, samples: int = 1000, seed: int = 0,
                level: float = 0.95, *, binary: bool | None = None,
                bounds: tuple[float, float] | None = None) -> PairedTest:
    """Compare two contenders item by item (items where either is NaN are left out).

    0/1 outcomes (`binary`, None: decide from the values): Newcombe interval and exact McNemar p. Others: BCa
    bootstrap of the item differences and a sign-flip p; `bounds` is the metric's range (see mean_interval).
    """
    a, b = np.asarray(a_values, dtype=float), np.asarray(b_values, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0:
        return PairedTest(metric, a_name, b_name, Estimate(NAN, NAN, NAN, 0), 1.0)
    if binary is None:
        binary = is_binary(a) and is_binary(b)
    if binary:
        if not (is_binary(a) and is_binary(b)):
            raise ValueError("binary=True needs values that are all 0 or 1")
        return PairedTest(metric, a_name, b_name, proportion_difference(a, b, level), mcnemar_p_value(a, b), MCNEMAR)
    diff = a - b
    span = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    difference = bootstrap_interval(diff, samples, seed, level, span)
    p_value = permutation_p_value(diff, samples, seed)
    if _sign_flip_is_exact(diff.size, samples) or not np.any(diff):
        return PairedTest(metric, a_name, b_name, difference, p_value, SIGN_FLIP_EXACT)
    return PairedTest(metric, a_name, b_name, difference, p_value, sign_flip_method(samples), samples)
