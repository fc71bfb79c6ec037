"""Optional TensorBoard and MLflow logging (`training.report_to`), fed the rows written to metrics.jsonl.

Both are optional dependencies (`pip install 'tunesmith[loggers]'`). TensorBoard writes to
`runs/<id>/tensorboard`. MLflow logs to `runs/<id>/mlflow/mlflow.db` (SQLite: MLflow 3 refuses its old
file store unless told otherwise) with artifacts beside it, never to `./mlruns` or `./mlflow.db` in the
working directory, unless MLFLOW_TRACKING_URI points elsewhere (a server, or one store for many runs).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from rich.markup import escape

from tunesmith.progress import console

EXTRA = "tunesmith[loggers]"
SKIPPED = frozenset({"split", "step", "epoch"})


class Loggers:
    """Opened by the training loop on the main process (`attach`); closed by run_training however it ends."""

    def __init__(self, names: list[str], run_dir: Path, config: dict):
        self.names = list(dict.fromkeys(names))
        self.run_dir = Path(run_dir)
        self.config = config
        self.sinks: list = []

    def attach(self, log) -> list[str]:
        """Open each requested logger and feed it `log`'s new rows; returns the ones not installed."""
        resume_step = max((row["step"] for row in log.rows), default=None)
        missing = []
        for name in self.names:
            try:
                sink = OPENERS[name](self.run_dir, self.config, resume_step)
            except ImportError:
                missing.append(name)
                continue
            self.sinks.append(sink)
            log.extra.append(sink.write)
        if missing:
            console.print(f"[yellow]warning:[/yellow] {' and '.join(missing)} (training.report_to) not installed; "
                          f"logging to metrics.jsonl only. Install: pip install '{escape(EXTRA)}'")
        return missing

    def close(self, status: str = "FINISHED") -> None:
        """status: FINISHED, FAILED or KILLED (MLflow's run states). Never raises: a failing logger must not
        hide why training ended."""
        for sink in self.sinks:
            try:
                sink.close(status)
            except Exception as error:
                console.print(f"[yellow]warning:[/yellow] closing a logger failed: {error}")
        self.sinks.clear()


def numeric(row: dict) -> dict[str, float]:
    """The row's numbers, under the same keys as in metrics.jsonl."""
    return {key: float(value) for key, value in row.items()
            if key not in SKIPPED and isinstance(value, int | float) and not isinstance(value, bool)}


class TensorBoardSink:
    def __init__(self, run_dir: Path, config: dict, resume_step: int | None):
        from torch.utils.tensorboard import SummaryWriter

        # On resume, hide events logged after the checkpoint the run continues from (as metrics.jsonl does).
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)

    def write(self, row: dict) -> None:
        for key, value in numeric(row).items():
            self.writer.add_scalar(key, value, row["step"])
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.close()


class MLflowSink:
    def __init__(self, run_dir: Path, config: dict, resume_step: int | None):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        name = f"tunesmith/{config.get('name', 'runs')}"
        # A new SQLite store announces its table creation at INFO level, in the middle of the progress output.
        db_log = logging.getLogger("mlflow.store.db.utils")
        level = db_log.level
        db_log.setLevel(logging.WARNING)
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri(run_dir))
            experiment = self.client.get_experiment_by_name(name)
        finally:
            db_log.setLevel(level)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            name, artifact_location=None if os.environ.get("MLFLOW_TRACKING_URI")
            else (run_dir / "mlflow" / "artifacts").resolve().as_uri())
        tags = {"tunesmith.run_dir": str(run_dir.resolve())}
        if resume_step is not None:
            tags["tunesmith.resumed_from_step"] = str(resume_step)
        self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id
        params = [Param(key, value) for key, value in flatten(config).items()]
        for start in range(0, len(params), 100):  # MLflow accepts at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])

    def write(self, row: dict) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, row["step"]) for key, value in numeric(row).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


def tracking_uri(run_dir: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else a SQLite store inside the run folder."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder = (Path(run_dir) / "mlflow").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{'training': {'seed': 1}} -> {'training.seed': '1'}; lists as JSON; values cut to MLflow's 6000 chars."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[f"{prefix}{key}"] = text[:6000]
    return flat


OPENERS = {"tensorboard": TensorBoardSink, "mlflow": MLflowSink}
