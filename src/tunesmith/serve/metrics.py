"""Prometheus metrics: HTTP requests and latency, plus the engine's queue, batch and token counters."""

from __future__ import annotations

import time

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


def _route_label(app, scope) -> str:
    """The route template a request matched (`/v1/files/{file_id}`), so labels stay few whatever the paths."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", "unmatched")
    from starlette.routing import Match

    for candidate in getattr(app, "routes", ()):  # refused before routing (401, 429, 413): match it here
        if candidate.matches(scope)[0] == Match.FULL:
            return getattr(candidate, "path", "unmatched")
    return "unmatched"


class Measured:
    """ASGI layer outside everything else (error handlers included): every response is counted by route and
    status, a 500 written by the server's exception handler and a failure that escaped it alike."""

    def __init__(self, app, metrics: Metrics, routes_of):
        self.app, self.metrics, self.routes_of = app, metrics, routes_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), None

        async def watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except BaseException:
            status = status or 500
            raise
        finally:
            label = _route_label(self.routes_of, scope)
            self.metrics.requests.labels(label, str(status or 499)).inc()  # 499: the client left first
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)
