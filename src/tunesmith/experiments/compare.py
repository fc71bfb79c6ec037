"""What differs between runs: settings (flattened config) and loss curves on one plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunesmith.experiments.registry import RunRecord

IGNORED_SETTINGS = ("serve.", "evaluation.", "objective.description", "objective.users", "objective.expected_output")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{'training': {'epochs': 3}} → {'training.epochs': 3}; lists are kept whole (pure)."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten(value, name) if isinstance(value, dict) and value else {name: value})
    return flat


def differing_settings(records: list[RunRecord]) -> dict[str, list[Any]]:
    """Settings whose value is not the same in every run, with each run's value (in order)."""
    flat = [flatten(r.config) for r in records]
    keys = sorted({k for f in flat for k in f if not k.startswith(IGNORED_SETTINGS)})
    differing = {}
    for key in keys:
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            differing[key] = values
    return differing


def plot_loss_curves(records: list[RunRecord], path: Path) -> Path:
    """Train (solid) and validation (dashed, dots) loss of every run, overlaid, one colour per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for index, record in enumerate(records):
        colour = f"C{index % 10}"
        curves = record.curves()
        if "train_loss" in curves:
            steps, values = zip(*curves["train_loss"], strict=True)
            ax.plot(steps, values, color=colour, alpha=0.8, label=f"{record.run_id} train")
        if "val_loss" in curves:
            steps, values = zip(*curves["val_loss"], strict=True)
            ax.plot(steps, values, color=colour, linestyle="--", marker="o", label=f"{record.run_id} validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title("Loss curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
