"""Prometheus metrics: HTTP requests and latency, plus the engine's queue, batch and token counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class _EngineCollector:
    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        stats = self.engine.stats
        yield CounterMetricFamily("tunesmith_generated_tokens", "Completion tokens sampled.",
                                  value=stats.completion_tokens)
        yield CounterMetricFamily("tunesmith_prompt_tokens", "Prompt tokens prefilled.", value=stats.prompt_tokens)
        yield CounterMetricFamily("tunesmith_decode_steps", "Batched decode steps.", value=stats.decode_steps)
        yield CounterMetricFamily("tunesmith_decode_rows", "Sum of batch sizes over decode steps.",
                                  value=stats.batched_rows)
        yield GaugeMetricFamily("tunesmith_queue_depth", "Requests waiting for the engine.", value=self.engine.queued)
        yield GaugeMetricFamily("tunesmith_active_sequences", "Sequences in the running batch.", value=stats.active)


class Metrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        self.requests = Counter("tunesmith_http_requests", "HTTP requests by route and status.",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("tunesmith_http_request_seconds", "Time to the full response.", ["route"],
                                 registry=self.registry,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.registry.register(_EngineCollector(engine))
