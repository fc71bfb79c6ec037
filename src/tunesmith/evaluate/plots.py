"""Report figures (matplotlib, Agg), returned as base64 PNG so the HTML report is self-contained."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# Colours used nowhere in the page's CSS, so a screenshot test can find the plots by colour.
RUN_COLOR, BASELINE_COLOR = "#d95f02", "#7570b3"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def metric_intervals(rows, metric: str) -> str:
    """Horizontal bars: each contender's mean with its 95% CI as an error bar."""
    rows = [r for r in rows if metric in r.metrics and not math.isnan(r.metrics[metric].mean)]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * max(len(rows), 1)))
    for y, row in enumerate(rows):
        est = row.metrics[metric]
        color = RUN_COLOR if row.kind == "run" else BASELINE_COLOR
        ax.barh(y, est.mean, color=color)
        if not math.isnan(est.low):  # all values equal on an unbounded metric: no interval to draw
            ax.errorbar(est.mean, y, xerr=[[est.mean - est.low], [est.high - est.mean]], fmt="none",
                        ecolor="black", capsize=4)
    ax.set_yticks(range(len(rows)), [r.name for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean, 95% CI)")
    if rows and all(r.metrics[metric].low >= 0 and r.metrics[metric].high <= 1 for r in rows):
        ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def confusion_matrix_plot(matrix: list[list[int]], labels: list[str], title: str) -> str:
    size = 1.2 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max((max(r) for r in matrix if r), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _png(fig)


def loss_curves_plot(curves: dict[str, list], title: str) -> str | None:
    if not any(curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, style in (("train", "-"), ("validation", "o-")):
        points = curves.get(name) or []
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=f"{name} loss", markersize=4)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)
