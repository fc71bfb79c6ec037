"""Every run in a project as a record for the experiment tools: its RunInfo, its saved settings and its
training curves, all read through `tunesmith.runs` (which owns the folder), plus the records the
experiment tools add beside them (plan.json, environment.json)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.runs import RunFolder, RunInfo, list_run_folders, resolve_run


@dataclass
class RunRecord:
    path: Path
    info: RunInfo = field(default_factory=RunInfo)
    config: dict = field(default_factory=dict)  # config.yaml as saved, for showing and comparing settings

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def metrics(self) -> dict:
        return self.info.metrics

    def setting(self, dotted: str):
        node = self.config
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def rows(self) -> list[dict]:
        """The training metrics: one dict per training step or validation."""
        return self.folder.metric_rows()

    def curves(self) -> dict[str, list[tuple[int, float]]]:
        """Loss curves by name (train_loss, val_loss) as (step, value) points."""
        curves: dict[str, list[tuple[int, float]]] = {}
        for row in self.rows():
            for name in ("train_loss", "val_loss"):
                if row.get(name) is not None:
                    curves.setdefault(name, []).append((int(row["step"]), float(row[name])))
        return curves


def load_record(run_dir: str | Path | RunFolder) -> RunRecord:
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(Path(run_dir))
    return RunRecord(folder.path, folder.info(), folder.config_data())


def is_run(folder: Path) -> bool:
    return RunFolder(folder).is_run()


def list_runs(runs_dir: Path) -> list[RunRecord]:
    """All runs, oldest first (run ids start with their timestamp)."""
    return [load_record(folder) for folder in list_run_folders(runs_dir)]


def find_run(runs_dir: Path, ref: str | Path) -> Path:
    """The folder of a run of the project whose runs are in `runs_dir` (see `tunesmith.runs.resolve_run`)."""
    return resolve_run(ref, Path(runs_dir).parent).path


def delete_run(runs_dir: Path, ref: str | Path) -> Path:
    folder = RunFolder(find_run(runs_dir, ref))
    if not folder.belongs_to(Path(runs_dir).parent):
        raise TunesmithError(f"{folder.path} is not a run of this project", "Pass a run id from `tunesmith runs list`.")
    shutil.rmtree(folder.path)
    return folder.path
