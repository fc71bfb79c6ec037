"""Reading run folders for the Train page: status, live metrics and the loss curve, from files only.

The training metrics are appended by the training loop while it runs; `RunFolder.metric_rows` skips a
half-written last line and this reader takes the common spellings of each metric.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from tunesmith.runs import RunFolder, RunInfo

STEP_KEYS = ("step", "global_step")
TRAIN_LOSS_KEYS = ("loss", "train_loss")
VALIDATION_LOSS_KEYS = ("validation_loss", "val_loss", "eval_loss")
SPEED_KEYS = ("tokens_per_s", "tokens_per_second", "tokens/s")
ETA_KEYS = ("eta_s", "eta_seconds", "eta")
ELAPSED_KEYS = ("elapsed", "elapsed_s", "seconds")
VALIDATION_SPLITS = {"validation", "val", "eval"}
OUTSIDE_RUN_QUIET_SECONDS = 600  # longer than one optimizer step plus a validation pass on this CPU
RUN_HEADERS = ["run", "status", "step", "train loss", "validation loss", "tokens/s", "ETA"]


def _first(record: dict, keys: tuple[str, ...]):
    return next((record[k] for k in keys if isinstance(record.get(k), (int, float))), None)


def read_metrics(run_dir: Path) -> list[dict]:
    return RunFolder(run_dir).metric_rows()


def loss_points(records: list[dict]) -> pd.DataFrame:
    """Rows of (step, loss, split) for the chart: train and validation curves."""
    points = []
    for record in records:
        step = _first(record, STEP_KEYS)
        if step is None:
            continue
        is_validation = str(record.get("split", "")).lower() in VALIDATION_SPLITS
        train_loss = None if is_validation else _first(record, TRAIN_LOSS_KEYS)
        validation_loss = _first(record, VALIDATION_LOSS_KEYS) or (
            _first(record, TRAIN_LOSS_KEYS) if is_validation else None)
        if train_loss is not None:
            points.append({"step": step, "loss": float(train_loss), "split": "train"})
        if validation_loss is not None:
            points.append({"step": step, "loss": float(validation_loss), "split": "validation"})
    return pd.DataFrame(points, columns=["step", "loss", "split"])


def _format_eta(seconds) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def run_status(run_dir: Path, training_alive: bool, now: float | None = None) -> str:
    folder = RunFolder(run_dir)
    status = folder.info().status or "starting"
    if status not in {"running", "starting"} or training_alive:
        return status
    # Not started by the studio: a terminal's `tunesmith train` still writes; a killed process went quiet.
    quiet_for = (now or time.time()) - folder.last_write()
    return "running (outside the studio)" if quiet_for < OUTSIDE_RUN_QUIET_SECONDS else "stopped"


def eta_seconds(last: dict, info: RunInfo) -> float | None:
    """Reported ETA, else elapsed time per step times the steps left."""
    reported = _first(last, ETA_KEYS)
    if reported is not None:
        return reported
    step, elapsed, planned = _first(last, STEP_KEYS), _first(last, ELAPSED_KEYS), info.planned_steps
    if not (step and elapsed and planned) or step >= planned:
        return None
    return elapsed / step * (planned - step)


def run_row(run_dir: Path, training_alive: bool) -> list:
    records = read_metrics(run_dir)
    points = loss_points(records)
    last = {}
    for record in records:
        last.update({k: v for k, v in record.items() if v is not None})
    train = points[points.split == "train"].loss
    validation = points[points.split == "validation"].loss
    speed = _first(last, SPEED_KEYS)
    status = run_status(run_dir, training_alive)
    eta = eta_seconds(last, RunFolder(run_dir).info()) if status == "running" else None
    return [run_dir.name, status, _first(last, STEP_KEYS) or 0,
            round(train.iloc[-1], 4) if len(train) else "", round(validation.iloc[-1], 4) if len(validation) else "",
            round(speed, 1) if speed else "", _format_eta(eta)]
