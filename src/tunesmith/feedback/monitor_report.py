"""`tunesmith monitor`: read the store and the training data, write monitor/report.html and summary.json."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path

from sqlalchemy import select

from tunesmith.feedback.monitor import MonitorSummary, summarize, version_breakdown, words
from tunesmith.feedback.registry import production_version
from tunesmith.feedback.schema import Feedback, RequestLog
from tunesmith.feedback.store import Store


def input_text(record: dict) -> str:
    """The model input of a canonical record or logged message list: the last user turn, or `text`."""
    messages = record.get("messages") if isinstance(record, dict) else record
    if isinstance(messages, list):
        users = [m.get("content") or "" for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] if users else ""
    return str(record.get("text") or "")


def training_inputs(store: Store, project_root: Path | None) -> list[str]:
    """Inputs of the production model's training split ([] when there is no production model or data)."""
    version = production_version(store)
    if version is None or not version.dataset_version or project_root is None:
        return []
    folder = project_root / "data" / version.dataset_version
    if not (folder / "manifest.json").exists():
        return []
    from tunesmith.data import load_prepared

    return [input_text(record) for record in load_prepared(folder).split("train")]


def collect(store: Store, since: dt.datetime | None = None) -> dict:
    with store.session() as session:
        query = select(RequestLog.created_at, RequestLog.latency_ms, RequestLog.status, RequestLog.messages,
                       RequestLog.model_version_id)
        feedback_query = select(Feedback.created_at, Feedback.score, Feedback.model_version_id)
        if since is not None:
            query = query.where(RequestLog.created_at >= since)
            feedback_query = feedback_query.where(Feedback.created_at >= since)
        requests = session.execute(query).all()
        feedback = session.execute(feedback_query).all()
    live = [input_text({"messages": r.messages}) for r in requests if r.status < 400]
    return {"traffic": [(r.created_at, r.latency_ms, r.status) for r in requests],
            "feedback": [(f.created_at, f.score) for f in feedback], "live": [t for t in live if t],
            "versions": version_breakdown([r.model_version_id for r in requests],
                                          [(f.model_version_id, f.score) for f in feedback])}


_BAR_WIDTH_DAYS = {"minute": 0.8 / 1440, "hour": 0.8 / 24, "day": 0.8}


def _figure(summary: MonitorSummary, live: list[str], training: list[str], bucket: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    times = [b.start for b in summary.buckets]
    width = _BAR_WIDTH_DAYS[bucket]
    ax = axes[0][0]
    ax.bar(times, [b.requests for b in summary.buckets], width=width, label="requests")
    ax.bar(times, [b.errors for b in summary.buckets], width=width, color="tab:red", label="errors")
    ax.set_title("Requests and errors")
    ax.legend()
    ax = axes[0][1]
    for name in ("latency_p50", "latency_p95", "latency_p99"):
        ax.plot(times, [getattr(b, name) for b in summary.buckets], marker="o", label=name.split("_")[1])
    ax.set_title("Latency (ms)")
    ax.legend()
    ax = axes[1][0]
    ax.plot(times, [b.mean_score for b in summary.buckets], marker="o", label="mean score (0–1)")
    ax.plot(times, [b.feedback_rate for b in summary.buckets], marker="s", label="feedback per request")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Feedback")
    ax.legend()
    ax = axes[1][1]
    series = [(name, [len(words(t)) for t in texts]) for name, texts in (("training", training), ("live", live))
              if texts]
    if series:
        ax.hist([lengths for _, lengths in series], bins=20, density=True, label=[name for name, _ in series])
        ax.legend()
    ax.set_title("Input length (words)")
    for axis in axes.flat[:3]:
        axis.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _html(summary: MonitorSummary, image: str, store_url: str) -> str:
    def fmt(value):
        return "–" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)

    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in summary.totals.items())
    drift = summary.drift
    rows += (f"<tr><td>length drift (KS)</td><td>{fmt(drift.length_ks)}</td></tr>"
             f"<tr><td>vocabulary drift (JS)</td><td>{fmt(drift.vocabulary_js)}</td></tr>")
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in summary.warnings) or "<li>none</li>"
    versions = "".join(f"<tr><td>{html.escape(name)}</td><td>{v['requests']}</td><td>{v['feedback']}</td>"
                       f"<td>{fmt(v['mean_score'])}</td></tr>" for name, v in summary.versions.items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>tunesmith monitor</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px}.warn{color:#b00}</style></head>"
            f"<body><h1>Production monitor</h1><p>Store: {html.escape(store_url)}</p>"
            f"<h2>Warnings</h2><ul class='warn'>{warnings}</ul><h2>Totals</h2><table>{rows}</table>"
            "<h2>By model version</h2><table><tr><th>version</th><th>requests</th><th>feedback</th>"
            f"<th>mean score</th></tr>{versions}</table>"
            f"<h2>Over time</h2><img alt='monitor charts' src='data:image/png;base64,{image}'></body></html>")


def write_monitor(store: Store, out_dir: Path, project_root: Path | None = None,
                  since: dt.datetime | None = None) -> tuple[MonitorSummary, Path]:
    """Summarise the store, write `report.html` and `summary.json` into `out_dir`."""
    collected = collect(store, since)
    live, training = collected["live"], training_inputs(store, project_root)
    summary = summarize(collected["traffic"], collected["feedback"], live, training, store.settings)
    summary.versions = collected["versions"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2), encoding="utf-8")
    report = out_dir / "report.html"
    image = _figure(summary, live, training, store.settings.monitor_bucket)
    report.write_text(_html(summary, image, store.url), encoding="utf-8")
    return summary, report
