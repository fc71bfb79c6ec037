"""What a person watches during training: a progress bar, metrics.jsonl, loss.png (loggers.py: TensorBoard, MLflow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tunesmith.progress import console
from tunesmith.runs import METRICS_FILE, PLOT_FILE


def pauses_left(step: int, total: int, eval_every: int) -> int:
    """Validations (each followed by a checkpoint) still to come after `step`: every `eval_every` steps and at
    the last step."""
    if step >= total:
        return 0
    return total // eval_every - step // eval_every + (1 if total % eval_every else 0)


def eta_seconds(step: int, total: int, eval_every: int, train_seconds: float, pause_seconds: float,
                pauses: int) -> tuple[float, bool]:
    """Seconds left: the remaining steps at the measured time per step, plus the remaining validations and
    checkpoints at their measured time each. The flag is True when validations remain whose cost is not
    measured yet (before the first one), so the estimate leaves them out and must say so."""
    per_step = train_seconds / step if step else 0.0
    left = pauses_left(step, total, eval_every)
    per_pause = pause_seconds / pauses if pauses else 0.0
    return (total - step) * per_step + left * per_pause, bool(left and not pauses)


def describe_eta(seconds: float, unmeasured: bool) -> str:
    text = f"{seconds / 60:.1f} min"
    return f"{text} + validation" if unmeasured else text


class ProgressBar:
    """Step bar with loss, learning rate, tokens/s and ETA; plain lines when stderr is not a terminal.
    The ETA counts validation and checkpoint time, not only training steps (`eta_seconds`)."""

    def __init__(self, total_steps: int, done: int, eval_every: int, enabled: bool = True):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.total = total_steps
        self.eval_every = eval_every
        self.progress = Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[speed]} tok/s  "
                       "ETA {task.fields[eta]}"), console=console, disable=not (enabled and self.tty))
        self.task = self.progress.add_task("train", total=total_steps, completed=done, loss="-", lr="-", speed="-",
                                           eta="-")
        if enabled and self.tty:
            self.progress.start()

    def eta(self, state) -> str:
        """`state`: the loop's LoopState (step, seconds, pause_seconds, pauses)."""
        return describe_eta(*eta_seconds(state.step, self.total, self.eval_every, state.seconds,
                                         state.pause_seconds, state.pauses))

    def step(self, row: dict, state) -> None:
        if not (self.enabled and self.tty):
            return
        self.progress.update(self.task, completed=row["step"], loss=f"{row['train_loss']:.4f}",
                             lr=f"{row['lr']:.2e}", speed=f"{row['tokens_per_second']:.0f}", eta=self.eta(state))

    def validated(self, state, result: dict, train_loss: float) -> None:
        """One line per validation (after its checkpoint), printed above the bar (the only output when stderr is
        not a terminal)."""
        if not self.enabled:
            return
        extra = f"  accuracy {result['val_accuracy']:.1%}" if "val_accuracy" in result else ""
        console.print(f"step {state.step}/{self.total}  train loss {train_loss:.4f}  validation loss "
                      f"{result['val_loss']:.4f}{extra}  {state.tokens / max(state.seconds, 1e-9):.0f} tok/s  "
                      f"ETA {self.eta(state)}")

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

