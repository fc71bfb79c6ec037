"""Follow a training run from its folder: new metric lines become events, new checkpoints become rows.

The run folder is the trainer's contract (metrics.jsonl, checkpoints/step-N/), so the API needs no hook
inside the training loop and sees the same progress after a restart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tunesmith.finetune_api.store import Store, new_id, now

STEP_FOLDER = re.compile(r"^step-(\d+)$")
# OpenAI's metric names, from whatever the trainer calls them.
METRIC_NAMES = {"loss": "train_loss", "train_loss": "train_loss", "val_loss": "valid_loss",
                "valid_loss": "valid_loss", "eval_loss": "valid_loss", "val_accuracy": "valid_mean_token_accuracy",
                "train_accuracy": "train_mean_token_accuracy", "token_accuracy": "train_mean_token_accuracy"}


def openai_metrics(line: dict[str, Any]) -> dict[str, Any]:
    metrics = {"step": line.get("step")}
    for theirs, ours in METRIC_NAMES.items():
        if isinstance(line.get(theirs), int | float):
            metrics[ours] = float(line[theirs])
    if "valid_loss" in metrics:
        metrics["full_valid_loss"] = metrics["valid_loss"]
    return metrics


def checkpoint_folders(run_dir: Path) -> dict[int, Path]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return {}
    found = {}
    for child in folder.iterdir():
        match = STEP_FOLDER.match(child.name)
        if match and child.is_dir() and not child.name.startswith("."):
            found[int(match.group(1))] = child
    return found


class RunFollower:
    """Copies what a run folder reports into the job's events and checkpoints, once each."""

    def __init__(self, store: Store, job_id: str, run_dir: Path):
        self.store, self.job_id, self.run_dir = store, job_id, Path(run_dir)
        self.offset = 0
        self.last_metrics: dict[str, Any] = {}
        self.known = {row["step"] for row in store.select("checkpoints", "job_id = ?", (job_id,))}
        reported = store.select("events", "job_id = ? AND type = 'metrics'", (job_id,), "seq DESC LIMIT 1")
        # after a restart the folder is read again from the top: steps already reported stay reported once
        self.reported_step = reported[0]["data"]["step"] if reported else -1

    def poll(self) -> None:
        self._read_metrics()
        for step, path in sorted(checkpoint_folders(self.run_dir).items()):
            if step not in self.known:
                self.known.add(step)
                metrics = {**self.last_metrics, "step": step}
                self.store.insert("checkpoints", {"id": new_id("ftckpt"), "job_id": self.job_id,
                                                  "created_at": now(), "step": step, "path": str(path),
                                                  "metrics": metrics})
                self.store.add_event(self.job_id, f"Checkpoint created at step {step}", data={"step": step})

    def _read_metrics(self) -> None:
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        with path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits for the next poll
        self.offset += len(complete)
        for raw in complete.decode("utf-8", errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if not isinstance(line, dict) or not isinstance(line.get("step"), int):
                continue
            if line["step"] <= self.reported_step:
                continue
            metrics = openai_metrics(line)
            self.last_metrics.update(metrics)
            shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "step" and isinstance(v, float))
            self.store.add_event(self.job_id, f"Step {metrics['step']}: {shown}".rstrip(": "), type="metrics",
                                 data=metrics)
