"""training.report_to: TensorBoard and MLflow receive exactly the numbers written to metrics.jsonl."""

import sys

import numpy as np
import pytest
from train_helpers import chat_records, tiny_config

from tunesmith.train import run_training
from tunesmith.train.loggers import Loggers
from tunesmith.train.monitor import MetricsLog, read_metrics


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Run from an empty working directory with no MLflow environment, to catch stray ./mlruns files."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def mlflow_run(run_dir):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{(run_dir / 'mlflow' / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("tunesmith/my-project")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


def test_tensorboard_and_mlflow_match_metrics_jsonl(tiny_lm_dir, tmp_path, elsewhere):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(tiny_lm_dir, max_steps=4, eval_every=2, report_to=["tensorboard", "mlflow"])
    run_dir = tmp_path / "run"
    run_training(config, chat_records(16), chat_records(4, seed=3), run_dir)
    rows = read_metrics(run_dir)
    train = [(r["step"], r["train_loss"]) for r in rows if r["split"] == "train"]
    val = [(r["step"], r["val_loss"]) for r in rows if r["split"] == "validation"]
    assert [s for s, _ in train] == [1, 2, 3, 4] and [s for s, _ in val] == [2, 4]

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    for key, expected in (("train_loss", train), ("val_loss", val)):
        # TensorBoard scalars are float32.
        assert [(e.step, e.value) for e in events.Scalars(key)] == [(s, float(np.float32(v))) for s, v in expected]
    assert {"lr", "tokens_per_second"} <= set(events.Tags()["scalars"])

    client, run = mlflow_run(run_dir)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    for key, expected in (("train_loss", train), ("val_loss", val)):
        assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)) == expected
    assert run.data.params["training.max_steps"] == "4" and run.data.params["method.name"] == "lora"
    assert list(elsewhere.iterdir()) == []  # nothing written to the working directory


def test_mlflow_run_ends_failed_when_training_fails(tiny_lm_dir, tmp_path, elsewhere):
    def crash(row):
        if row["step"] == 2:
            raise RuntimeError("boom")

    config = tiny_config(tiny_lm_dir, max_steps=4, eval_every=2, report_to=["mlflow", "tensorboard"])
    with pytest.raises(RuntimeError, match="boom"):
        run_training(config, chat_records(16), chat_records(4, seed=3), tmp_path / "run", callbacks=[crash])
    client, run = mlflow_run(tmp_path / "run")
    assert run.info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]


def test_missing_loggers_give_one_warning_naming_the_extra(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m.split(".")[0] in ("mlflow", "tensorboard")] + [
            "mlflow", "torch.utils.tensorboard"]:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, as when not installed
    log = MetricsLog(tmp_path, None)
    loggers = Loggers(["tensorboard", "mlflow", "mlflow"], tmp_path, {})
    assert loggers.attach(log) == ["tensorboard", "mlflow"]
    assert log.extra == []
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "pip install 'tunesmith[loggers]'" in err
    assert "tensorboard and mlflow" in err
    loggers.close("FAILED")  # nothing opened, nothing to close
