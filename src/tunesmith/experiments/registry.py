"""Every run in a project, read from its folder: run.json, config.yaml, metrics.jsonl and the records
the experiment tools add beside them (plan.json, environment.json)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tunesmith.errors import TunesmithError

RUN_FILE, CONFIG_FILE, METRICS_FILE = "run.json", "config.yaml", "metrics.jsonl"


@dataclass
class RunRecord:
    path: Path
    info: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def metrics(self) -> dict:
        return self.info.get("metrics") or {}

    def setting(self, dotted: str):
        node = self.config
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def rows(self) -> list[dict]:
        """metrics.jsonl: one dict per training step or validation."""
        path = self.path / METRICS_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def curves(self) -> dict[str, list[tuple[int, float]]]:
        """Loss curves by name (train_loss, val_loss) as (step, value) points."""
        curves: dict[str, list[tuple[int, float]]] = {}
        for row in self.rows():
            for name in ("train_loss", "val_loss"):
                if row.get(name) is not None:
                    curves.setdefault(name, []).append((int(row["step"]), float(row[name])))
        return curves


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError:
        return {}


def load_record(run_dir: str | Path) -> RunRecord:
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    return RunRecord(run_dir, _read_json(run_dir / RUN_FILE), config or {})


def is_run(folder: Path) -> bool:
    return folder.is_dir() and ((folder / RUN_FILE).exists() or (folder / CONFIG_FILE).exists())


def list_runs(runs_dir: Path) -> list[RunRecord]:
    """All runs, oldest first (run ids start with their timestamp)."""
    if not runs_dir.exists():
        return []
    return [load_record(folder) for folder in sorted(runs_dir.iterdir()) if is_run(folder)]


def find_run(runs_dir: Path, ref: str | Path) -> Path:
    """A run folder from its id, a unique prefix or suffix of it, 'latest', or a path."""
    path = Path(ref)
    if is_run(path):
        return path.resolve()
    names = [r.run_id for r in list_runs(runs_dir)]
    if str(ref) == "latest" and names:
        return runs_dir / names[-1]
    matches = [n for n in names if n == str(ref)] or [n for n in names if n.startswith(str(ref))
                                                       or n.endswith(str(ref))]
    if len(matches) == 1:
        return runs_dir / matches[0]
    if not matches:
        raise TunesmithError(f"no run '{ref}' in {runs_dir}", "List the runs with `tunesmith runs list`.")
    raise TunesmithError(f"'{ref}' matches {len(matches)} runs ({', '.join(matches[:4])}…)",
                         "Give more of the run id.")


def delete_run(runs_dir: Path, ref: str | Path) -> Path:
    folder = find_run(runs_dir, ref)
    if folder.resolve().parent != runs_dir.resolve():
        raise TunesmithError(f"{folder} is not a run of this project", "Pass a run id from `tunesmith runs list`.")
    shutil.rmtree(folder)
    return folder
