"""Follow a training run from its folder: new metric lines become events, new checkpoints become rows.

The run folder is the trainer's contract (read through `tunesmith.runs.RunFolder`: the metrics file, the
record, checkpoints/step-N/), so the API needs no hook inside the training loop and sees the same progress
after a restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tunesmith.finetune_api.store import Store, new_id, now
from tunesmith.runs import RunFolder
from tunesmith.train.checkpoint import complete_checkpoints

clock = time.time  # the pace clock (a test replaces it)
# OpenAI's metric names, from whatever the trainer calls them.
METRIC_NAMES = {"train_loss": "train_loss", "loss": "train_loss", "val_loss": "valid_loss",
                "val_accuracy": "valid_mean_token_accuracy", "train_accuracy": "train_mean_token_accuracy"}


def openai_metrics(line: dict[str, Any]) -> dict[str, Any]:
    metrics = {"step": line.get("step")}
    for theirs, ours in METRIC_NAMES.items():
        if isinstance(line.get(theirs), int | float):
            metrics[ours] = float(line[theirs])
    if "valid_loss" in metrics:
        metrics["full_valid_loss"] = metrics["valid_loss"]
    return metrics


def checkpoint_folders(run_dir: Path) -> dict[int, Path]:
    """Whole checkpoints of a run by step (the trainer prunes old ones; half-written ones never count)."""
    return {int(path.name[5:]): path for path in complete_checkpoints(RunFolder(run_dir).checkpoints_dir)}


class RunFollower:
    """Copies what a run folder reports into the job's events and checkpoints, once each."""

    def __init__(self, store: Store, job_id: str, run_dir: Path, evaluating: bool = False):
        self.store, self.job_id, self.run_dir, self.evaluating = store, job_id, Path(run_dir), evaluating
        self.folder = RunFolder(self.run_dir)
        self.training_done = False
        self.pace: tuple[float, int] | None = None  # (time, step) when this process saw its first step
        self.planned_steps: int | None = None
        self.offset = 0
        self.last_metrics: dict[str, Any] = {}
        self.known = {row["step"]: row["id"] for row in store.select("checkpoints", "job_id = ?", (job_id,))}
        # a resumed run rewrites metrics.jsonl from its checkpoint on: rows reported before stay reported once
        self.reported = {(e["data"].get("split"), e["data"]["step"])
                         for e in store.select("events", "job_id = ? AND type = 'metrics'", (job_id,))}

    def poll(self) -> None:
        self._read_metrics()
        on_disk = checkpoint_folders(self.run_dir)
        for step, path in sorted(on_disk.items()):
            if step not in self.known:
                metrics = {**self.last_metrics, "step": step}
                metrics.pop("split", None)
                row = self.store.insert("checkpoints", {"id": new_id("ftckpt"), "job_id": self.job_id,
                                                        "created_at": now(), "step": step, "path": str(path),
                                                        "metrics": metrics})
                self.known[step] = row["id"]
                self.store.add_event(self.job_id, f"Checkpoint created at step {step}", data={"step": step})
        for step in [s for s in self.known if s not in on_disk]:  # pruned by the trainer: no longer usable
            self.store.delete("checkpoints", self.known.pop(step))
        self._notice_training_done()

    def _notice_training_done(self) -> None:
        if self.training_done:
            return
        run = self.folder.info()
        if run.status == "completed":
            self.training_done = True
            then = "; comparing it with the base model on the validation file" if self.evaluating else ""
            self.store.add_event(self.job_id, f"Training finished after {run.steps} steps "
                                 f"({run.tokens} tokens){then}.", data={"steps": run.steps, "tokens": run.tokens})

    def _read_metrics(self) -> None:
        path = self.folder.metrics_file
        if not path.exists():
            return
        if path.stat().st_size < self.offset:  # rewritten on resume
            self.offset = 0
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
            metrics = {"split": line.get("split", "train"), **openai_metrics(line)}
            self.last_metrics.update(metrics)
            if (metrics["split"], metrics["step"]) in self.reported:
                continue
            self.reported.add((metrics["split"], metrics["step"]))
            shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
            self.store.add_event(self.job_id, f"Step {metrics['step']}: {shown}", type="metrics", data=metrics)
            if metrics["split"] == "train":
                self._estimate_finish(metrics["step"])

    def _estimate_finish(self, step: int) -> None:
        """OpenAI's `estimated_finish`: the remaining steps at the pace seen so far (training only)."""
        now_ = clock()
        if self.pace is None:
            self.pace = (now_, step)
            return
        started, first = self.pace
        self.planned_steps = self.planned_steps or self.folder.info().planned_steps
        if isinstance(self.planned_steps, int) and step > first and now_ > started:
            left = (self.planned_steps - step) * (now_ - started) / (step - first)
            self.store.update("jobs", self.job_id, estimated_finish=int(now_ + left))

