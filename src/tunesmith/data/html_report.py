"""A self-contained HTML page about one dataset version: counts, plots (base64 PNG), rejects, warnings."""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import warnings

from tunesmith.data.dataset import SPLITS, PreparedDataset
from tunesmith.data.report import describe_split, describe_system_prompt

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top;font-size:13px}th{background:#f3f3f3}img{max-width:100%}code{background:#f5f5f5}
.warn{color:#a15c00}"""


def _png(figure) -> str:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # labels in scripts the default font lacks draw as boxes: not worth a warning
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _plots(manifest: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = []
    for title, histogram in (("Record length (characters)", manifest["lengths"]["histogram"]),
                             ("Record length (tokens)", (manifest.get("tokens") or {}).get("histogram"))):
        if histogram and histogram["counts"]:
            figure, axis = plt.subplots(figsize=(7, 2.8))
            edges = histogram["edges"]
            axis.bar(edges[:-1], histogram["counts"], width=[b - a for a, b in itertools.pairwise(edges)],
                     align="edge", color="#4c72b0")
            if "tokens" in title:
                axis.axvline(manifest["tokens"]["max_length"], color="#c44e52", linestyle="--", label="max_length")
                axis.legend()
            axis.set_title(title)
            axis.set_ylabel("records")
            parts.append(_png(figure))
            plt.close(figure)
    labels = manifest.get("labels") or {}
    if labels:
        figure, axis = plt.subplots(figsize=(7, 0.4 * len(labels) + 1.2))
        left = [0] * len(labels)
        for name, color in zip(SPLITS, ("#4c72b0", "#dd8452", "#55a868"), strict=True):
            values = [labels[label][name] for label in labels]
            axis.barh(list(labels), values, left=left, label=name, color=color)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axis.set_title("Label balance")
        axis.legend()
        parts.append(_png(figure))
        plt.close(figure)
    clusters = manifest.get("duplicate_clusters") or []
    if clusters:
        figure, axis = plt.subplots(figsize=(7, 0.35 * len(clusters) + 1.2))
        axis.barh([c["kept"][:30] for c in clusters][::-1], [c["dropped"] + 1 for c in clusters][::-1],
                  color="#8172b2")
        axis.set_title("Largest near-duplicate clusters (records)")
        axis.xaxis.get_major_locator().set_params(integer=True)
        parts.append(_png(figure))
        plt.close(figure)
    return parts


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _rejects(dataset: PreparedDataset, limit: int = 200) -> list[dict]:
    rows = []
    if dataset.rejects_path.exists():
        with open(dataset.rejects_path, encoding="utf-8") as fh:
            for line in fh:
                if len(rows) >= limit:
                    break
                rows.append(json.loads(line))
    return rows


def _splits(manifest: dict) -> list[dict]:
    return [{"split": name, "records": manifest["counts"].get(name, 0),
             "how it was made": describe_split(manifest, name)} for name in SPLITS]


def render_html(dataset: PreparedDataset) -> str:
    manifest = dataset.manifest
    counts = [{"step": key, "records": value} for key, value in manifest["counts"].items()]
    tokens = manifest.get("tokens") or {}
    token_rows = [{"statistic": k, "value": v} for k, v in tokens.items() if k != "histogram"]
    sections = [
        f"<h1>Dataset {html.escape(dataset.version)}</h1><p>task: <b>{html.escape(dataset.task)}</b> · "
        f"created {html.escape(manifest.get('created', ''))}</p>",
        "<h2>Sources</h2>" + _table(manifest["sources"], ["path", "kind", "format", "rows", "records", "rejected",
                                                          "weight", "split", "sha256"]),
        "<h2>Splits</h2>" + _table(_splits(manifest), ["split", "records", "how it was made"]),
        *([f"<p>{html.escape(system)}</p>"] if (system := describe_system_prompt(manifest)) else []),
        "<h2>Counts</h2>" + _table(counts, ["step", "records"]),
        "<h2>Plots</h2>" + "".join(_plots(manifest)),
        "<h2>Token statistics</h2>" + (_table(token_rows, ["statistic", "value"]) if tokens else
                                       "<p>not measured (run <code>tunesmith data prepare</code> with a model)</p>"),
        "<h2>Near-duplicate clusters</h2>" + _table(manifest.get("duplicate_clusters") or [],
                                                    ["kept", "dropped", "examples", "text"]),
        "<h2>Conflicting duplicates (same input, different answer or label)</h2>"
        + _table(manifest.get("conflicts") or [], ["ids", "input"]),
        "<h2 class=warn>Warnings</h2>" + _table(manifest.get("warnings") or [], ["file", "line", "field", "message",
                                                                                 "hint"]),
        "<h2>Errors</h2>" + _table(manifest.get("errors") or [], ["file", "line", "field", "message", "count",
                                                                 "hint"]),
        "<h2>Rejected rows</h2>" + _table(_rejects(dataset), ["file", "line", "field", "message"]),
    ]
    if manifest.get("spelling"):
        sections.append("<h2>Possible misspellings</h2>" + _table(manifest["spelling"],
                                                                  ["word", "count", "suggestion"]))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>tunesmith data {dataset.version}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>")
