"""Monitor statistics, drift and warnings; the HTML report from a real store."""

from __future__ import annotations

import datetime as dt
import json

from tunesmith.config import FeedbackConfig
from tunesmith.feedback import log_exchange, open_store, record_feedback
from tunesmith.feedback.monitor import length_drift, summarize, time_buckets, vocabulary_drift
from tunesmith.feedback.monitor_report import write_monitor

T0 = dt.datetime(2026, 11, 1, 9, 0)
BIKES = [f"how do I adjust the brakes on my {kind} bike" for kind in ("road", "gravel", "city", "kids", "cargo")] * 4
COOKING = [f"what temperature should I bake {dish} at for a long time in a gas oven" for dish in
           ("bread", "pizza", "lasagna", "cookies", "salmon")] * 4


def test_buckets_count_traffic_errors_latency_and_feedback():
    requests = [(T0 + dt.timedelta(minutes=m), float(10 * (m + 1)), 500 if m == 3 else 200) for m in range(5)]
    requests.append((T0 + dt.timedelta(hours=1, minutes=5), 40.0, 200))
    feedback = [(T0 + dt.timedelta(minutes=1), 1.0), (T0 + dt.timedelta(minutes=2), 0.0),
                (T0 + dt.timedelta(hours=1, minutes=6), None)]
    first, second = time_buckets(requests, feedback, "hour")
    assert (first.requests, first.errors, first.error_rate) == (5, 1, 0.2)
    assert first.latency_p50 == 25.0  # 10, 20, 30, 50: the failed request's latency is left out
    assert (first.feedback, first.mean_score, first.feedback_rate) == (2, 0.5, 0.4)
    assert (second.requests, second.feedback, second.mean_score) == (1, 1, None)


def test_drift_is_zero_for_the_same_inputs_and_large_for_another_topic():
    assert length_drift(BIKES, BIKES) == 0.0
    assert vocabulary_drift(BIKES, BIKES) == 0.0
    assert length_drift(COOKING, BIKES) > 0.9
    assert vocabulary_drift(COOKING, BIKES) > 0.7
    assert vocabulary_drift(BIKES[:3], BIKES) is None  # too few inputs to say anything


def test_warnings_fire_on_drift_and_on_a_falling_score():
    settings = FeedbackConfig()
    feedback = [(T0 + dt.timedelta(hours=h, minutes=m), 1.0 if h < 2 else 0.0) for h in range(3) for m in range(3)]
    requests = [(moment, 20.0, 200) for moment, _ in feedback]
    calm = summarize(requests, feedback[:6], BIKES, BIKES, settings)
    assert calm.warnings == []
    alarm = summarize(requests, feedback, COOKING, BIKES, settings)
    assert len(alarm.warnings) == 3
    assert any("fell from 1.00 to 0.00" in w for w in alarm.warnings)


def test_report_from_a_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}", FeedbackConfig(log_requests=True))
    for n, question in enumerate(BIKES[:8]):
        response = {"id": f"r{n}", "choices": [{"message": {"content": "ok"}}]}
        log_exchange(store, {"messages": [{"role": "user", "content": question}]}, response, 0.05 * (n + 1),
                     500 if n == 7 else 200, model_version_id=1 if n < 5 else 2)
    record_feedback(store, response_id="r1", rating="up")
    record_feedback(store, response_id="r6", rating=2)
    summary, report = write_monitor(store, tmp_path / "monitor")
    assert summary.totals["requests"] == 8 and summary.totals["errors"] == 1
    assert summary.totals["feedback_rate"] == 2 / 8 and summary.drift.live_inputs == 7
    assert summary.versions == {"v1": {"requests": 5, "feedback": 1, "mean_score": 1.0},
                                "v2": {"requests": 3, "feedback": 1, "mean_score": 0.25}}
    page = report.read_text()
    assert "data:image/png;base64," in page and "<td>v2</td><td>3</td>" in page
    assert json.loads((tmp_path / "monitor" / "summary.json").read_text())["totals"]["requests"] == 8
