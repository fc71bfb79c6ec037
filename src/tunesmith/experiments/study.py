"""Run, resume and summarise an Optuna study of the project (see experiments/tune.py for one trial)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import yaml

from tunesmith.errors import TunesmithError
from tunesmith.experiments.tune import (
    FINISHED,
    TUNE_FOLDER,
    TuneResult,
    applicable_space,
    run_trial,
    suggest,
    trial_config,
)
from tunesmith.progress import console


def _eval_every(config) -> int:
    """Steps between validations; "auto" counts as one step, so the pruner's warm-up (in steps) is at least
    `warmup_validations` steps rather than a guess at a cadence the data decides (config/auto.py)."""
    every = config.training.eval_every
    return every if isinstance(every, int) else 1


def open_study(project, create: bool = True):
    import optuna

    tc = project.config.tune
    folder = project.root / TUNE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{folder / 'study.db'}"
    direction = "minimize" if tc.metric == "val_loss" else "maximize"
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=tc.startup_trials,
                                          n_warmup_steps=tc.warmup_validations * _eval_every(project.config))
              if tc.prune else optuna.pruners.NopPruner())
    if not create and not (folder / "study.db").exists():
        raise TunesmithError(f"no search in {folder}", "Start one with `tunesmith tune`.")
    study = optuna.create_study(study_name=project.config.name, storage=storage, load_if_exists=True,
                                direction=direction, pruner=pruner)
    # Seeded by how far the search got, so a resumed search does not replay the first session's samples.
    study.sampler = optuna.samplers.TPESampler(seed=tc.seed + len(study.trials))
    return study


def _fail_stale(study) -> None:
    """Trials left running by a killed session will never report: mark them failed so they do not count."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


def tune(project, trials: int | None = None, timeout_minutes: float | None = None) -> TuneResult:
    """Search until `trials` trials have finished (across sessions) or the time budget is spent."""
    import optuna

    from tunesmith.data import prepare

    optuna.logging.set_verbosity(logging.WARNING)
    config, tc = project.config, project.config.tune
    space = applicable_space(config)
    if not space:
        raise TunesmithError("tune.search_space has nothing that applies to method " f"'{config.method.name}'",
                             "Add e.g. training.learning_rate: {low: 1e-5, high: 1e-2, log: true}.")
    budget = trials or tc.trials
    timeout = (timeout_minutes or tc.timeout_minutes or 0) * 60 or None
    dataset = prepare(project)
    study = open_study(project)
    _fail_stale(study)
    done = len([t for t in study.trials if t.state.name in FINISHED])
    if done:
        console.print(f"continuing search '{study.study_name}': {done} of {budget} trials finished")

    def objective(trial) -> float:
        params = {name: suggest(trial, name, item) for name, item in space.items()}
        console.print(f"trial {trial.number}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                            for k, v in params.items()))
        return run_trial(project, dataset, trial_config(config, params, tc.max_steps_per_trial), trial, tc.metric)

    started = time.monotonic()
    while done < budget and (timeout is None or time.monotonic() - started < timeout):
        remaining = None if timeout is None else max(1.0, timeout - (time.monotonic() - started))
        study.optimize(objective, n_trials=1, timeout=remaining)
        done = len([t for t in study.trials if t.state.name in FINISHED])
    return summarize(project, study)


def summarize(project, study) -> TuneResult:
    """Best trial, counts, plots in tune/ and the best settings as tune/best.yaml."""
    states = [t.state.name for t in study.trials]
    rows = [{"trial": t.number, "state": t.state.name, "value": t.value, "params": t.params,
             "run": Path(t.user_attrs.get("run_dir", "")).name or None} for t in study.trials]
    result = TuneResult(study.study_name, project.config.tune.metric, None, {}, None, states.count("COMPLETE"),
                        states.count("PRUNED"), states.count("FAIL"), rows)
    if result.completed:
        best = study.best_trial
        result.best_value, result.best_params = best.value, best.params
        result.best_run = Path(best.user_attrs.get("run_dir", "")).name or None
        best_config = trial_config(project.config, best.params, None)
        path = project.root / TUNE_FOLDER / "best.yaml"
        path.write_text(yaml.safe_dump(best_config.model_dump(mode="json"), sort_keys=False))
        result.best_config_path = path
    result.plots = write_plots(study, project.root / TUNE_FOLDER)
    return result


def write_plots(study, folder: Path) -> list[Path]:
    """Parallel coordinates of every finished trial and the importance of each setting (matplotlib)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    for name, draw, needed in (("parallel_coordinates.png", optuna_plots.plot_parallel_coordinate, 1),
                               ("importance.png", optuna_plots.plot_param_importances, 2)):
        if len(complete) < needed:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
            try:
                axes = draw(study)
            except (ValueError, RuntimeError) as err:  # e.g. importance with a single distinct value
                console.print(f"[dim]skipped {name}: {err}[/dim]")
                continue
        figure = axes.figure if hasattr(axes, "figure") else plt.gcf()
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        figure.savefig(folder / name, dpi=110)
        plt.close(figure)
        written.append(folder / name)
    return written
