"""Hyperparameter search (`tunesmith tune`): the budget, the metric and the space to search."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from tunesmith.config.base import Section


class ParameterRange(Section):
    low: float | None = Field(None, description="Smallest value (numeric ranges).")
    high: float | None = Field(None, description="Largest value (numeric ranges).")
    log: bool = Field(False, description="Sample on a log scale (learning rates, weight decay).")
    integer: bool = Field(False, description="Sample whole numbers between low and high.")
    choices: list[Any] | None = Field(None, description="Pick one of these values instead of a range.")

    @model_validator(mode="after")
    def _range_or_choices(self) -> ParameterRange:
        if self.choices is not None:
            if not self.choices:
                raise ValueError("choices must list at least one value")
            return self
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError("give either choices: [...] or low < high")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


def _default_space() -> dict[str, ParameterRange]:
    return {"training.learning_rate": ParameterRange(low=1e-5, high=1e-2, log=True),
            "method.r": ParameterRange(choices=[4, 8, 16, 32]),
            "method.dropout": ParameterRange(low=0.0, high=0.2)}


class TuneConfig(Section):
    trials: int = Field(20, ge=1, description="Trials to finish (completed or pruned), counting earlier sessions.")
    timeout_minutes: float | None = Field(None, gt=0, description="Stop starting new trials after this long; "
                                          "empty means no time limit.")
    metric: Literal["val_loss", "val_accuracy"] = Field("val_loss", description="What the search optimises "
                                                        "(loss is minimised, accuracy maximised).")
    prune: bool = Field(True, description="Stop trials whose validation metric is worse than the median of "
                        "earlier trials at the same step.")
    startup_trials: int = Field(2, ge=0, description="Trials that always run to the end before pruning starts.")
    warmup_validations: int = Field(0, ge=0, description="Validations a trial always gets before it can be pruned.")
    max_steps_per_trial: int | None = Field(None, ge=1, description="Cap each trial's optimizer steps (a quick, "
                                            "cheap search); empty keeps training.max_steps/epochs.")
    seed: int = Field(42, description="Seed of the sampler, so a search can be repeated.")
    search_space: dict[str, ParameterRange] = Field(
        default_factory=_default_space, description="Settings to search, by dotted name (e.g. "
        "training.learning_rate, training.batch_size, training.epochs, method.r, method.dropout); options that "
        "do not apply to the configured method are skipped.")
