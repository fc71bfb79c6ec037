"""What production looks like: traffic, latency, errors, feedback and input drift (pure functions).

Drift compares the inputs the server saw with the inputs the production model was trained on: the
Kolmogorov-Smirnov distance between their length distributions, and the Jensen-Shannon distance between
their word distributions (0 = same, 1 = disjoint).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from tunesmith.config import FeedbackConfig

_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_DRIFT_SAMPLE = 5  # fewer inputs than this say nothing about a distribution


@dataclass
class Bucket:
    start: dt.datetime
    requests: int = 0
    errors: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    feedback: int = 0
    mean_score: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def feedback_rate(self) -> float | None:
        return self.feedback / self.requests if self.requests else None


@dataclass
class Drift:
    length_ks: float | None
    vocabulary_js: float | None
    live_inputs: int
    training_inputs: int


@dataclass
class MonitorSummary:
    buckets: list[Bucket]
    totals: dict[str, float | int | None]
    drift: Drift
    warnings: list[str] = field(default_factory=list)
    versions: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        buckets = [asdict(b) | {"start": b.start.isoformat(), "error_rate": b.error_rate,
                                "feedback_rate": b.feedback_rate} for b in self.buckets]
        return {"buckets": buckets, "totals": self.totals, "drift": asdict(self.drift), "warnings": self.warnings,
                "versions": self.versions}


def bucket_start(moment: dt.datetime, size: str) -> dt.datetime:
    if size == "minute":
        return moment.replace(second=0, microsecond=0)
    if size == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _percentiles(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def time_buckets(requests: Sequence[tuple[dt.datetime, float, int]], feedback: Sequence[tuple[dt.datetime,
                 float | None]], size: str) -> list[Bucket]:
    """Per-bucket traffic from (time, latency_ms, status) and feedback from (time, score)."""
    latencies: dict[dt.datetime, list[float]] = {}
    buckets: dict[dt.datetime, Bucket] = {}
    for moment, latency, status in requests:
        key = bucket_start(moment, size)
        bucket = buckets.setdefault(key, Bucket(key))
        bucket.requests += 1
        bucket.errors += status >= 400
        if status < 400:
            latencies.setdefault(key, []).append(latency)
    scores: dict[dt.datetime, list[float]] = {}
    for moment, score in feedback:
        key = bucket_start(moment, size)
        buckets.setdefault(key, Bucket(key)).feedback += 1
        if score is not None:
            scores.setdefault(key, []).append(score)
    for key, bucket in buckets.items():
        bucket.latency_p50, bucket.latency_p95, bucket.latency_p99 = _percentiles(latencies.get(key, []))
        if scores.get(key):
            bucket.mean_score = float(np.mean(scores[key]))
    return [buckets[key] for key in sorted(buckets)]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def length_drift(live: Sequence[str], training: Sequence[str]) -> float | None:
    """Kolmogorov-Smirnov statistic between word counts of live and training inputs."""
    if len(live) < _MIN_DRIFT_SAMPLE or len(training) < _MIN_DRIFT_SAMPLE:
        return None
    return float(ks_2samp([len(words(t)) for t in live], [len(words(t)) for t in training]).statistic)


def vocabulary_drift(live: Sequence[str], training: Sequence[str]) -> float | None:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the word distributions of the two sets."""
    if len(live) < _MIN_DRIFT_SAMPLE or len(training) < _MIN_DRIFT_SAMPLE:
        return None
    live_counts = Counter(w for t in live for w in words(t))
    train_counts = Counter(w for t in training for w in words(t))
    vocabulary = sorted(set(live_counts) | set(train_counts))
    if not vocabulary:
        return None
    p = np.array([live_counts[w] for w in vocabulary], dtype=float)
    q = np.array([train_counts[w] for w in vocabulary], dtype=float)
    if not p.sum() or not q.sum():
        return 1.0
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def score_drop(buckets: Sequence[Bucket]) -> tuple[float, float] | None:
    """(earlier mean, latest mean) of feedback scores, when both periods have scores."""
    scored = [b for b in buckets if b.mean_score is not None]
    if len(scored) < 2:
        return None
    earlier = [b.mean_score for b in scored[:-1]]
    return float(np.mean(earlier)), float(scored[-1].mean_score)


def summarize(requests: Sequence[tuple[dt.datetime, float, int]], feedback: Sequence[tuple[dt.datetime,
              float | None]], live_inputs: Sequence[str], training_inputs: Sequence[str],
              settings: FeedbackConfig) -> MonitorSummary:
    buckets = time_buckets(requests, feedback, settings.monitor_bucket)
    ok_latency = [latency for _, latency, status in requests if status < 400]
    p50, p95, p99 = _percentiles(ok_latency)
    scores = [score for _, score in feedback if score is not None]
    totals = {"requests": len(requests), "errors": sum(status >= 400 for _, _, status in requests),
              "latency_p50_ms": p50, "latency_p95_ms": p95, "latency_p99_ms": p99, "feedback": len(feedback),
              "mean_score": float(np.mean(scores)) if scores else None}
    totals["error_rate"] = totals["errors"] / len(requests) if requests else None
    totals["feedback_rate"] = len(feedback) / len(requests) if requests else None
    drift = Drift(length_drift(live_inputs, training_inputs), vocabulary_drift(live_inputs, training_inputs),
                  len(live_inputs), len(training_inputs))
    return MonitorSummary(buckets, totals, drift, _warnings(buckets, drift, settings))


def version_breakdown(request_versions: Sequence[int | None],
                      feedback: Sequence[tuple[int | None, float | None]]) -> dict[str, dict]:
    """Requests, feedback and mean score per model version that answered ("unknown" when not recorded)."""
    table: dict[str, dict] = {}

    def row(version: int | None) -> dict:
        return table.setdefault(f"v{version}" if version is not None else "unknown",
                                {"requests": 0, "feedback": 0, "scores": []})

    for version in request_versions:
        row(version)["requests"] += 1
    for version, score in feedback:
        entry = row(version)
        entry["feedback"] += 1
        if score is not None:
            entry["scores"].append(score)
    for entry in table.values():
        scores = entry.pop("scores")
        entry["mean_score"] = float(np.mean(scores)) if scores else None
    return dict(sorted(table.items()))


def _warnings(buckets: Sequence[Bucket], drift: Drift, settings: FeedbackConfig) -> list[str]:
    warnings = []
    if drift.length_ks is not None and drift.length_ks > settings.length_drift_threshold:
        warnings.append(f"input length drift: KS distance {drift.length_ks:.2f} > "
                        f"{settings.length_drift_threshold:.2f} (inputs are longer or shorter than in training)")
    if drift.vocabulary_js is not None and drift.vocabulary_js > settings.vocabulary_drift_threshold:
        warnings.append(f"vocabulary drift: Jensen-Shannon distance {drift.vocabulary_js:.2f} > "
                        f"{settings.vocabulary_drift_threshold:.2f} (users ask about things the training data "
                        "does not cover)")
    drop = score_drop(buckets)
    if drop and drop[0] - drop[1] > settings.score_drop_threshold:
        warnings.append(f"feedback score fell from {drop[0]:.2f} to {drop[1]:.2f} in the latest "
                        f"{settings.monitor_bucket} (more than {settings.score_drop_threshold:.2f})")
    return warnings
