"""Cells for run tables (pure): the settings and numbers a person scans to tell runs apart."""

from __future__ import annotations

from tunesmith.experiments.registry import RunRecord


def number(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def duration(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def key_settings(record: RunRecord) -> str:
    lr = record.setting("training.learning_rate")
    batch = record.setting("training.batch_size")
    accumulation = record.setting("training.gradient_accumulation") or 1
    parts = [f"lr {number(lr, 3)}", f"batch {batch}×{accumulation}"]
    max_steps = record.setting("training.max_steps")
    parts.append(f"{max_steps} steps max" if max_steps else f"{number(record.setting('training.epochs'), 3)} ep")
    if record.setting("method.r") is not None:
        parts.append(f"r {record.setting('method.r')}")
    return ", ".join(parts)


def planner_error(record: RunRecord) -> str:
    """The planner's error on this run's time per step and peak memory, when plan.json exists."""
    from tunesmith.plan.record import predicted_vs_actual, read_prediction

    prediction = read_prediction(record.path)
    if prediction is None:
        return "-"
    short = {"seconds per step": "time", "peak memory (bytes)": "memory"}
    parts = [f"{short[r['quantity']]} {r['error']:+.0%}" for r in predicted_vs_actual(prediction, record.info.to_json())
             if r["quantity"] in short and r["error"] is not None]
    return ", ".join(parts) or "-"


def list_row(record: RunRecord) -> list[str]:
    info, metrics = record.info, record.metrics
    accuracy = metrics.get("val_accuracy")
    losses = f"{number(metrics.get('train_loss'))} / {number(metrics.get('val_loss'))}"
    return [record.run_id, info.status or "?", (info.dataset_version or "-")[:12],
            info.method or str(record.setting("method.name") or "-"), key_settings(record),
            "-" if losses == "- / -" else losses, f"{accuracy:.1%}" if isinstance(accuracy, float) else "-",
            f"{info.steps} in {duration(info.seconds)}" if info.steps else "-", planner_error(record)]


LIST_COLUMNS = ("run", "status", "data", "method", "settings", "loss train / val", "val acc", "steps",
                "planner error")
