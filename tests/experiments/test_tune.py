"""Acceptance: `tunesmith tune` with a budget of 6 trials on a tiny model finds a learning rate better than
the worst trial, prunes at least one, and resumes after an interruption; every trial is a normal run."""

from __future__ import annotations

import json

import pytest
import yaml

import tunesmith.experiments.study as study_module
from tunesmith.experiments import list_runs, tune
from tunesmith.experiments.study import open_study
from tunesmith.project import Project

SEARCH = {"trials": 6, "max_steps_per_trial": 8, "startup_trials": 2,
          "search_space": {"training.learning_rate": {"low": 1e-5, "high": 0.3, "log": True}}}


def with_search(folder) -> Project:
    config = yaml.safe_load((folder / "tunesmith.yaml").read_text())
    config["tune"] = SEARCH
    (folder / "tunesmith.yaml").write_text(yaml.safe_dump(config))
    return Project.load(folder)


def test_six_trials_prune_resume_and_find_a_better_learning_rate(project_copy, monkeypatch):
    folder, _ = project_copy
    project = with_search(folder)
    real_trial, calls = study_module.run_trial, []

    def interrupted_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if Ctrl-C arrived during the third trial
        return real_trial(*args, **kwargs)

    monkeypatch.setattr(study_module, "run_trial", interrupted_on_third)
    with pytest.raises(KeyboardInterrupt):
        tune(project)
    first = open_study(project).trials
    assert [t.state.name for t in first] == ["COMPLETE", "COMPLETE", "FAIL"]

    monkeypatch.setattr(study_module, "run_trial", real_trial)
    result = tune(Project.load(folder))
    assert result.completed + result.pruned == 6 and result.failed == 1
    assert result.pruned >= 1
    values = [row["value"] for row in result.trials if row["state"] == "COMPLETE"]
    assert result.best_value == min(values) < max(values)
    learning_rates = [row["params"]["training.learning_rate"] for row in result.trials]
    assert len({round(lr, 12) for lr in learning_rates}) == len(learning_rates)  # resuming did not replay samples

    runs = {r.run_id: r for r in list_runs(folder / "runs")}
    for row in result.trials:
        if row["state"] in ("COMPLETE", "PRUNED"):
            record = runs[row["run"]]
            assert record.info.status == ("completed" if row["state"] == "COMPLETE" else "pruned")
            assert json.loads((record.path / "tune.json").read_text())["trial"] == row["trial"]
            assert record.setting("training.learning_rate") == pytest.approx(row["params"]["training.learning_rate"])
    assert runs[result.best_run].metrics["val_loss"] == result.best_value
    best = yaml.safe_load(result.best_config_path.read_text())
    assert best["training"]["learning_rate"] == result.best_params["training.learning_rate"]
    assert best["training"]["max_steps"] == 6  # the per-trial cap is not part of the recommended config
    assert {p.name for p in result.plots} == {"parallel_coordinates.png", "importance.png"}
