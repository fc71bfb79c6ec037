"""OpenAI job parameters → tunesmith config, and a run folder → job events/checkpoints (no processes)."""

from __future__ import annotations

import json
import shutil

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.finetune_api.errors import OpenAIError
from tunesmith.finetune_api.hyperparameters import (
    requested_hyperparameters,
    resolve_hyperparameters,
    training_config,
)
from tunesmith.finetune_api.progress import RunFollower
from tunesmith.finetune_api.store import Store
from tunesmith.train.checkpoint import MARKER


def test_auto_means_the_project_setting_and_the_multiplier_scales_its_learning_rate():
    config = ProjectConfig.model_validate({"training": {"epochs": 4, "batch_size": 3, "learning_rate": 1e-4,
                                                        "eval_every": 50, "gradient_accumulation": 2,
                                                        "max_steps": 7}})
    body = {"hyperparameters": {"n_epochs": 9, "batch_size": 5},
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": "auto",
                                                                                "learning_rate_multiplier": 2}}}}
    hyper = resolve_hyperparameters(requested_hyperparameters(body), config)
    assert hyper == {"n_epochs": 4, "batch_size": 5, "learning_rate_multiplier": 2.0}  # method wins over legacy
    job = training_config(config, "smollm2-135m-instruct", hyper, seed=11, train_examples=25)
    assert job.training.epochs == 4 and job.training.batch_size == 5 and job.training.seed == 11
    assert job.training.max_steps is None  # jobs are sized in epochs
    assert job.training.learning_rate == pytest.approx(2e-4)
    assert job.training.eval_every == 3  # ceil(25 / (5 * 2)) steps per epoch: a checkpoint every epoch at least
    assert job.model.name == "smollm2-135m-instruct" and job.objective.task == "chat"
    assert config.training.learning_rate == 1e-4  # the project itself is untouched


@pytest.mark.parametrize("value", [0, 2.5, "three", True, 51])
def test_bad_epochs_are_refused_with_the_parameter_named(value):
    with pytest.raises(OpenAIError) as err:
        resolve_hyperparameters({"n_epochs": value}, ProjectConfig())
    assert err.value.status == 400 and err.value.param == "hyperparameters.n_epochs"


def _checkpoint(run_dir, step):
    folder = run_dir / "checkpoints" / f"step-{step}"
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("ok\n")
    return folder


def test_run_follower_reports_each_step_once_across_a_resume_and_forgets_pruned_checkpoints(tmp_path):
    store, run_dir = Store(tmp_path / "store.sqlite"), tmp_path / "run"
    run_dir.mkdir()
    metrics = run_dir / "metrics.jsonl"
    rows = [{"split": "train", "step": s, "train_loss": 1.0 / s} for s in (1, 2, 3)]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"split": "validation", "st')
    _checkpoint(run_dir, 2)
    (run_dir / "checkpoints" / ".step-3-staging").mkdir()  # half-written: never reported
    follower = RunFollower(store, "ftjob-x", run_dir)
    follower.poll()
    reported = store.select("events", "type = 'metrics'", order="seq ASC")
    assert [e["data"]["step"] for e in reported] == [1, 2, 3]
    assert [c["step"] for c in store.select("checkpoints")] == [2]

    # resumed from step 2: the trainer rewrote metrics.jsonl from its checkpoint on, then went further
    rows = [*rows[:2], {"split": "train", "step": 3, "train_loss": 0.3}, {"split": "validation", "step": 4,
                                                                         "val_loss": 0.5}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _checkpoint(run_dir, 4)
    shutil.rmtree(run_dir / "checkpoints" / "step-2")  # pruned by the trainer
    again = RunFollower(store, "ftjob-x", run_dir)
    again.poll()
    reported = store.select("events", "type = 'metrics'", order="seq ASC")
    assert [(e["data"]["split"], e["data"]["step"]) for e in reported] == [
        ("train", 1), ("train", 2), ("train", 3), ("validation", 4)]
    [checkpoint] = store.select("checkpoints")
    assert checkpoint["step"] == 4 and checkpoint["metrics"]["valid_loss"] == 0.5


def test_estimated_finish_extrapolates_the_pace_of_training(tmp_path, monkeypatch):
    store, run_dir = Store(tmp_path / "store.sqlite"), tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"status": "running", "planned_steps": 10}))
    store.insert("jobs", {"id": "ftjob-y", "created_at": 0, "model": "m", "base_model": "b", "training_file": "f",
                          "hyperparameters": {}, "seed": 0, "status": "running"})
    clock = iter([1000.0, 1004.0])
    monkeypatch.setattr("tunesmith.finetune_api.progress.clock", lambda: next(clock))
    follower = RunFollower(store, "ftjob-y", run_dir)
    for step in (1, 3):  # two polls, 4 s apart, two steps apart: 2 s per step, 7 steps to go
        with (run_dir / "metrics.jsonl").open("a") as log:
            log.write(json.dumps({"split": "train", "step": step, "train_loss": 1.0}) + "\n")
        follower.poll()
    assert store.get("jobs", "ftjob-y")["estimated_finish"] == 1004 + 14


def test_a_dpo_method_trains_the_dpo_objective_with_its_beta():
    from tunesmith.finetune_api.hyperparameters import requested_method

    config = ProjectConfig.model_validate({"preference": {"dpo": {"beta": 0.3}}, "training": {"epochs": 2}})
    body = {"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 3}}}}
    assert requested_method(body) == "dpo"
    hyper = resolve_hyperparameters(requested_hyperparameters(body), config, "dpo")
    assert hyper == {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.0, "beta": 0.2}
    job = training_config(config, "smollm2-135m-instruct", hyper, seed=1, train_examples=16, method="dpo")
    assert job.training.objective == "dpo" and job.preference.dpo.beta == 0.2
    auto = resolve_hyperparameters(requested_hyperparameters({"method": {"type": "dpo"}}), config, "dpo")
    assert auto["beta"] == 0.3  # auto: the project's preference.dpo.beta
    # supervised stays supervised, whatever the project's own objective
    sft = training_config(ProjectConfig.model_validate({"training": {"objective": "dpo"}}), "m",
                          resolve_hyperparameters({}, config), seed=1, train_examples=4)
    assert sft.training.objective == "sft"


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"method": {"type": "reinforcement"}}, "method.type", "method 'reinforcement' is not supported"),
    ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0}}}}, "hyperparameters.beta", "between"),
    ({"method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}}, "hyperparameters",
     "unknown hyperparameter 'beta' for method supervised"),
])
def test_bad_methods_are_refused_with_the_parameter_named(body, param, words):
    from tunesmith.finetune_api.hyperparameters import requested_method

    with pytest.raises(OpenAIError) as err:
        method = requested_method(body)
        resolve_hyperparameters(requested_hyperparameters(body), ProjectConfig(), method)
    assert err.value.status == 400 and err.value.param == param and words in err.value.message


def test_a_dpo_job_reports_its_method_as_openai_does():
    from tunesmith.finetune_api.objects import job_object

    hyper = {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.0, "beta": 0.2}
    row = {"id": "ftjob-1", "created_at": 1, "model": "m", "status": "queued", "training_file": "file-1",
           "validation_file": None, "hyperparameters": hyper, "method": "dpo", "seed": 1, "suffix": None,
           "fine_tuned_model": "ft:m:org::1", "finished_at": None, "error": None, "trained_tokens": None,
           "result_files": [], "metadata": None, "estimated_finish": None}
    job = job_object(row)
    assert job["method"] == {"type": "dpo", "dpo": {"hyperparameters": hyper}}
    assert job["hyperparameters"] == {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.0}


def test_a_store_written_before_methods_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the jobs table as earlier versions created it
        db.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
                   "hyperparameters TEXT NOT NULL, status TEXT NOT NULL)")
        db.execute("INSERT INTO jobs (id, hyperparameters, status) VALUES ('ftjob-old', '{}', 'succeeded')")
    assert Store(path).get("jobs", "ftjob-old")["method"] == "supervised"
