"""The one overfitting rule, shared by the live training warning, the evaluation report and the model card.

A run overfits when its validation loss has risen for N evaluations in a row (training.overfit_patience)
while its training loss fell over the same evaluations. A validation loss that is still falling, or
that rose only once (noise), never counts. Training loss per evaluation is the mean of the training
losses logged since the previous evaluation: the window the training loop averages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Curves = dict[str, list[tuple[float, float]]]


@dataclass(frozen=True)
class Evaluation:
    step: float
    train_loss: float | None  # mean training loss since the previous evaluation; None when none was logged
    val_loss: float


@dataclass(frozen=True)
class Overfitting:
    """Where the rule first held: validation rose from `start` to `end` while training loss fell."""

    start: Evaluation
    end: Evaluation
    rises: int

    def message(self) -> str:
        times = f"{self.rises} evaluations in a row" if self.rises > 1 else "at one evaluation"
        return (f"validation loss rose {times} (step {self.start.step:g}: "
                f"{self.start.val_loss:.3f} → step {self.end.step:g}: {self.end.val_loss:.3f}) while training "
                f"loss fell ({self.start.train_loss:.3f} → {self.end.train_loss:.3f}): the model is overfitting")


def default_patience() -> int:
    from tunesmith.config.training import TrainingConfig

    return TrainingConfig.model_fields["overfit_patience"].default


def run_patience(run_dir) -> int:
    """The patience the run trained with (its saved config), so its report judges it by the same rule."""
    from pathlib import Path

    from tunesmith.runs import CONFIG_FILE
    from tunesmith.runs.saved_config import read_saved

    value = (read_saved(Path(run_dir) / CONFIG_FILE).get("training") or {}).get("overfit_patience")
    return value if isinstance(value, int) and value >= 1 else default_patience()


def evaluations(curves: Curves) -> list[Evaluation]:
    """One point per validation, with the mean training loss logged since the previous validation."""
    train = sorted(curves.get("train", []))
    points, previous = [], -math.inf
    for step, val_loss in sorted(curves.get("validation", [])):
        window = [loss for s, loss in train if previous < s <= step]
        points.append(Evaluation(step, sum(window) / len(window) if window else None, val_loss))
        previous = step
    return points


def find_overfitting(points: list[Evaluation], patience: int) -> Overfitting | None:
    """The first evaluation at which validation loss has risen `patience` times in a row while training
    loss fell over those evaluations; None when that never happened."""
    rises = 0
    for i in range(1, len(points)):
        rises = rises + 1 if points[i].val_loss > points[i - 1].val_loss else 0
        if rises >= patience:
            start, end = points[i - patience], points[i]
            if start.train_loss is not None and end.train_loss is not None and end.train_loss < start.train_loss:
                return Overfitting(start, end, patience)
    return None
