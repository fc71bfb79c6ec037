"""`RunFolder`: the one owner of runs/<id>/ — its file names, its record, its project and dataset, and the
refusal every command gives a run that has no usable model.

```
runs/<id>/  config.yaml  the resolved config (schema_version first; read with tunesmith.runs.saved_config)
            run.json     the record (RunInfo)          metrics.jsonl, loss.png   training curves
            adapter/ or model/  the result             tokenizer/                the tokenizer it trained with
            checkpoints/step-N/ (tunesmith.train.checkpoint)   README.md  model card   eval/  reports
            plan.json, environment.json, tune.json, reproduction.json: records other tools add
```
A run belongs to the project two folders up (`<project>/runs/<id>`) when that folder has tunesmith.yaml.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import PROJECT_FILE
from tunesmith.errors import TunesmithError
from tunesmith.project import DATA_DIR, RUNS_DIR
from tunesmith.runs.contract import InferenceContract, training_contract
from tunesmith.runs.info import RunInfo

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"
CARD_FILE = "README.md"
TOKENIZER_DIR = "tokenizer"
CHECKPOINTS_DIR = "checkpoints"
EVAL_DIR = "eval"
ARTIFACT_DIRS = ("adapter", "model")  # what Method.artifact names
# What a run folder holds besides its weights (archives and downloads leave these out or in).
WEIGHT_DIRS = (*ARTIFACT_DIRS, TOKENIZER_DIR)
# Records other tools add beside a run (their modules write and read them under these names).
PLAN_FILE = "plan.json"  # tunesmith.plan.record: the planner's prediction
ENVIRONMENT_FILE = "environment.json"  # tunesmith.experiments.environment: packages, threads, data hashes
TRIAL_FILE = "tune.json"  # tunesmith.experiments.tune: the study and trial a run belongs to
REPRODUCTION_FILE = "reproduction.json"  # tunesmith.experiments.reproduce: the comparison with the original


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from disk; {} when missing, unreadable, half-written or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _artifact_name(data: dict[str, Any], path: Path) -> str | None:
    """run.json's artifact; for older records, the method's, else whichever result folder exists."""
    if isinstance(data.get("artifact"), str):
        return data["artifact"]
    from tunesmith.methods import discover

    method = discover().get(str(data.get("method")))
    if method is not None:
        return method.artifact
    return next((name for name in ARTIFACT_DIRS if (path / name).is_dir()), None)


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # layout ------------------------------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def card_file(self) -> Path:
        return self.path / CARD_FILE

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / TOKENIZER_DIR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    def is_run(self) -> bool:
        """A folder training has started in (its record or config is there)."""
        return self.path.is_dir() and (self.run_file.exists() or self.config_file.exists())

    def last_write(self) -> float:
        """When training last wrote its record or a metrics row (0.0 when neither exists)."""
        times = [p.stat().st_mtime for p in (self.metrics_file, self.run_file) if p.exists()]
        return max(times, default=0.0)

    # the record ----------------------------------------------------------------------------------------------
    def info(self) -> RunInfo:
        data = read_json(self.run_file)
        artifact = _artifact_name(data, self.path)
        folder = self.path / artifact if artifact else None
        present = folder is not None and folder.is_dir() and any(folder.iterdir())
        return RunInfo.from_json(data, artifact, present)

    @property
    def artifact_dir(self) -> Path | None:
        """adapter/ or model/: where the result is (or will be)."""
        artifact = self.info().artifact
        return self.path / artifact if artifact else None

    @property
    def finished(self) -> bool:
        return self.info().finished

    def require_finished(self, action: str = "use") -> RunInfo:
        """The run's record if its model can be used; else one line: its status, its error, what to do."""
        if not self.path.is_dir():
            raise TunesmithError(f"no run folder at {self.path}",
                                 "Pass a run id, `latest` or a folder under runs/ (see `tunesmith runs list`).")
        if not self.is_run():
            raise TunesmithError(f"{self.path} is not a tunesmith run folder (no {RUN_FILE} or {CONFIG_FILE})",
                                 "Pass a folder under runs/ (see `tunesmith runs list`).")
        info = self.info()
        if info.finished:
            return info
        raise TunesmithError(*_refusal(self.run_id, info, action))

    def mark(self, status: str) -> None:
        """Set the record's status (e.g. `tune` marking a pruned trial), keeping everything else."""
        data = {**read_json(self.run_file), "status": status}
        staging = self.run_file.with_suffix(".json.tmp")
        staging.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(staging, self.run_file)

    def inference_contract(self) -> InferenceContract:
        """How this run's model is prompted: the contract training recorded. A run trained before runs recorded
        one gets what its evaluation used: the system prompt all its training conversations share (when its
        dataset is still in the project) and its config's evaluation settings."""
        info = self.info()
        if info.inference is not None:
            return info.inference
        from dataclasses import replace

        from tunesmith.config import ProjectConfig

        try:
            config = self.config()
        except Exception:  # an unreadable config.yaml: today's defaults
            config = ProjectConfig()
        if info.task and info.task != config.objective.task:
            config = config.model_copy(update={"objective": config.objective.model_copy(update={"task": info.task})})
        return replace(training_contract(config, self._train_records(), None, info.labels), recorded=False)

    def _train_records(self) -> list[dict[str, Any]]:
        folder = self.dataset_dir
        if folder is None:
            return []
        from tunesmith.data import load_prepared

        try:
            return list(load_prepared(folder).split("train"))
        except Exception:  # a damaged or foreign dataset folder: no prompt can be read from it
            return []

    # where it belongs ------------------------------------------------------------------------------------------
    @property
    def project_root(self) -> Path | None:
        """The project this run was trained in: `<project>/runs/<id>` with tunesmith.yaml in <project>."""
        candidate = self.path.resolve().parent.parent
        return candidate if (candidate / PROJECT_FILE).exists() else None

    @property
    def dataset_dir(self) -> Path | None:
        """The prepared dataset version it trained on, when that folder is still in its project."""
        root, version = self.project_root, self.info().dataset_version
        if root is None or not version:
            return None
        folder = root / DATA_DIR / version
        return folder if folder.is_dir() else None

    def belongs_to(self, project_root: Path) -> bool:
        """Whether this is a run of the project at `project_root` (in its runs/ folder)."""
        return self.path.resolve().parent == (Path(project_root) / RUNS_DIR).resolve()

    # training curves ---------------------------------------------------------------------------------------------
    def metric_rows(self) -> list[dict[str, Any]]:
        """metrics.jsonl: one dict per training step or validation; a half-written last line is skipped."""
        try:
            lines = self.metrics_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        rows = []
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    # the saved config ------------------------------------------------------------------------------------------
    def config(self):
        """The ProjectConfig it trained with; keys this version no longer knows are warned about and dropped."""
        from tunesmith.runs.saved_config import load_run_config

        return load_run_config(self.config_file)

    def config_data(self) -> dict[str, Any]:
        """config.yaml as saved (a mapping; {} when missing or unreadable), for showing settings."""
        from tunesmith.runs.saved_config import read_saved

        return read_saved(self.config_file)


def _refusal(run_id: str, info: RunInfo, action: str) -> tuple[str, str]:
    status = info.status
    if status == "completed":
        return (f"run {run_id} completed but its {info.artifact or 'adapter/model'} folder is missing or empty, "
                f"so there is no model to {action}", "The run folder is incomplete: train again.")
    if status == "failed":
        error = f": {info.error}" if info.error else ""
        return (f"run {run_id} failed{error}; it has no model to {action}",
                "Fix the cause and train again (`tunesmith train`), or pick a finished run (`tunesmith runs list`).")
    if status == "running":
        progress = f" (planned {info.planned_steps} steps)" if info.planned_steps else ""
        return (f"run {run_id} is still running{progress}; it has no final model to {action} yet",
                "Wait for it to finish, or pick a finished run (`tunesmith runs list`).")
    if status == "interrupted":
        return (f"run {run_id} was interrupted after {info.steps or 0} steps; it has no final model to {action}",
                f"Finish it with `tunesmith train --resume --run runs/{run_id}`, or pick a finished run.")
    if status == "pruned":
        return (f"run {run_id} was pruned by `tunesmith tune`; it has no final model to {action}",
                "Pick a finished run (`tunesmith runs list`).")
    said = f"status '{status}'" if status else f"no status in its {RUN_FILE}"
    return (f"run {run_id} has {said}, so it has no final model to {action}",
            "Pick a finished run (`tunesmith runs list`), or train again.")
