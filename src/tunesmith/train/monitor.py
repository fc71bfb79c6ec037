"""What a person watches during training: a progress bar, metrics.jsonl, loss.png (loggers.py: TensorBoard, MLflow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tunesmith.progress import console
from tunesmith.runs import METRICS_FILE, PLOT_FILE


class ProgressBar:
    """Step bar with loss, learning rate, tokens/s and ETA; plain lines when stderr is not a terminal."""

    def __init__(self, total_steps: int, done: int, enabled: bool = True):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.total = total_steps
        self.progress = Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[speed]} tok/s"),
            TimeRemainingColumn(), console=console, disable=not (enabled and self.tty))
        self.task = self.progress.add_task("train", total=total_steps, completed=done, loss="-", lr="-", speed="-")
        if enabled and self.tty:
            self.progress.start()

    def step(self, row: dict) -> None:
        self.progress.update(self.task, completed=row["step"], loss=f"{row['train_loss']:.4f}",
                             lr=f"{row['lr']:.2e}", speed=f"{row['tokens_per_second']:.0f}")

    def validated(self, step: int, result: dict, train_loss: float, tokens_per_second: float,
                  seconds: float) -> None:
        """One line per validation, printed above the bar (the only output when stderr is not a terminal)."""
        if not self.enabled:
            return
        eta = seconds / max(step, 1) * (self.total - step)
        extra = f"  accuracy {result['val_accuracy']:.1%}" if "val_accuracy" in result else ""
        console.print(f"step {step}/{self.total}  train loss {train_loss:.4f}  validation loss "
                      f"{result['val_loss']:.4f}{extra}  {tokens_per_second:.0f} tok/s  ETA {eta / 60:.1f} min")

    def note(self, text: str) -> None:
        if self.enabled:
            console.print(text)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.progress.stop()


class MetricsLog:
    """Appends rows to metrics.jsonl; redraws loss.png after each validation."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        self.path = run_dir / METRICS_FILE
        self.plot_path = run_dir / PLOT_FILE
        # On resume, forget what happened after the checkpoint the run continues from.
        rows = [r for r in read_metrics(run_dir) if r["step"] <= resume_step] if resume_step is not None else []
        self.rows = rows
        self.path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.extra: list = []

    def add(self, row: dict) -> None:
        self.rows.append(row)
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        for logger in self.extra:
            logger(row)

    def plot(self) -> None:
        plot_losses(self.rows, self.plot_path)


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["train_loss"]) for r in rows if r.get("split") == "train"]
    val = [(r["step"], r["val_loss"]) for r in rows if r.get("split") == "validation"]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", alpha=0.7)
    if val:
        ax.plot(*zip(*val, strict=True), marker="o", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)

