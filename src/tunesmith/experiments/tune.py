"""`tunesmith tune`: Optuna search over the settings declared in the `tune` config section.

Each trial is a normal training run in runs/ (so `tunesmith runs` lists and compares them); its
validation metric is reported to Optuna after every validation, and the median pruner stops trials
that trail earlier ones at the same step. The study lives in tune/study.db (SQLite, JSON-serialisable
attributes only), so an interrupted search continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.config import ProjectConfig, apply_overrides
from tunesmith.config.method import option_names
from tunesmith.config.tune import ParameterRange
from tunesmith.errors import TunesmithError
from tunesmith.experiments.environment import record_environment
from tunesmith.methods import get_method
from tunesmith.runs import TRIAL_FILE, RunFolder

TUNE_FOLDER = "tune"
FINISHED = ("COMPLETE", "PRUNED")


@dataclass
class TuneResult:
    study_name: str
    metric: str
    best_value: float | None
    best_params: dict
    best_run: str | None
    completed: int
    pruned: int
    failed: int
    trials: list[dict] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    best_config_path: Path | None = None


def applicable_space(config: ProjectConfig) -> dict[str, ParameterRange]:
    """The declared space without method options the configured method does not have."""
    allowed = option_names(config.method.name)
    return {name: space for name, space in config.tune.search_space.items()
            if not name.startswith("method.") or name.split(".", 1)[1] in allowed}


def suggest(trial, name: str, space: ParameterRange):
    if space.choices is not None:
        return trial.suggest_categorical(name, space.choices)
    if space.integer:
        return trial.suggest_int(name, int(space.low), int(space.high), log=space.log)
    return trial.suggest_float(name, space.low, space.high, log=space.log)


def trial_config(config: ProjectConfig, params: dict, max_steps: int | None) -> ProjectConfig:
    """The project config with a trial's values set (validated like any --set override)."""
    overrides = [f"{name}={json.dumps(value)}" for name, value in params.items()]
    if max_steps:
        overrides.append(f"training.max_steps={max_steps}")
    sized = get_method(config.method.name).rank_options
    if "method.r" in params and sized is not None and "method.alpha" not in params:
        # keep the scale alpha / r the method's rank presets use
        overrides.extend(f"method.{k}={json.dumps(v)}" for k, v in sized(int(params["method.r"])).items()
                         if f"method.{k}" not in params)
    return apply_overrides(config, overrides)


def last_validation(run_dir: Path, metric: str) -> tuple[int, float] | None:
    for row in reversed(RunFolder(run_dir).metric_rows()):
        if row.get("split") == "validation" and row.get(metric) is not None:
            return int(row["step"]), float(row[metric])
    return None


class PruningReporter:
    """A training step callback: reports each new validation to Optuna and stops pruned trials."""

    def __init__(self, trial, run_dir: Path, metric: str):
        self.trial, self.run_dir, self.metric = trial, run_dir, metric
        self.reported: set[int] = set()

    def __call__(self, row: dict) -> None:
        import optuna

        found = last_validation(self.run_dir, self.metric)
        if found is None or found[0] in self.reported:
            return
        step, value = found
        self.reported.add(step)
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.metric} {value:.4f} at step {step} trails the median")


def run_trial(project, dataset, config: ProjectConfig, trial, metric: str) -> float:
    """Train one trial as a normal run; returns its final validation metric."""
    import optuna

    from tunesmith.train import run_training

    run_dir = project.new_run_dir(f"{config.method.name}-trial{trial.number}")
    trial.set_user_attr("run_dir", str(run_dir))
    (run_dir / TRIAL_FILE).write_text(json.dumps({"study": trial.study.study_name, "trial": trial.number,
                                                  "params": trial.params}, indent=2))
    record_environment(run_dir, config.model_dump(mode="json"), dataset.path)
    try:
        result = run_training(config, dataset.split("train"), dataset.split("validation"), run_dir,
                              dataset_version=dataset.version, callbacks=[PruningReporter(trial, run_dir, metric)])
    except optuna.TrialPruned:
        _mark(run_dir, "pruned")
        raise
    if result.status == "interrupted":
        raise KeyboardInterrupt  # stop the search; `tunesmith tune` again continues it
    value = result.metrics.get(metric)
    if value is None:
        raise TunesmithError(f"trial {trial.number} reported no {metric}",
                             "Tuning needs a validation split: set data.validation_share above 0.")
    return float(value)


def _mark(run_dir: Path, status: str) -> None:
    RunFolder(run_dir).mark(status)
