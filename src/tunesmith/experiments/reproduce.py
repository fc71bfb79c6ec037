"""Re-run a recorded run from its config.yaml and dataset version, and say whether the metrics match.

On CPU with the same packages, seeds, thread count and data, training is deterministic, so the
default tolerance is zero: every loss must come out bit-for-bit the same. Timing is not compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.experiments.environment import environment, environment_differences, record_environment
from tunesmith.experiments.registry import RunRecord, find_run, load_record
from tunesmith.runs import REPRODUCTION_FILE

TIMING = frozenset({"seconds", "tokens_per_second", "elapsed"})


@dataclass
class Reproduction:
    original: Path
    reproduced: Path
    rows: list[dict] = field(default_factory=list)  # metric, original, reproduced, match
    curve_mismatches: list[str] = field(default_factory=list)
    environment_notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return bool(self.rows) and all(r["match"] for r in self.rows) and not self.curve_mismatches

    def to_json(self) -> dict:
        return {"original": str(self.original), "reproduced": str(self.reproduced), "identical": self.identical,
                "metrics": self.rows, "curve_mismatches": self.curve_mismatches,
                "environment_notes": self.environment_notes}


def _same(a, b, tolerance: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance) if tolerance else a == b
    return a == b


def compare_metrics(original: dict, reproduced: dict, tolerance: float = 0.0) -> list[dict]:
    """One row per metric the original recorded, timing excluded (pure)."""
    return [{"metric": key, "original": value, "reproduced": reproduced.get(key),
             "match": _same(value, reproduced.get(key), tolerance)}
            for key, value in original.items() if key not in TIMING]


def compare_curves(original: RunRecord, reproduced: RunRecord, tolerance: float = 0.0) -> list[str]:
    mismatches = []
    theirs, ours = original.curves(), reproduced.curves()
    for name, points in theirs.items():
        other = dict(ours.get(name, []))
        for step, value in points:
            if step not in other or not _same(value, other[step], tolerance):
                mismatches.append(f"{name} at step {step}: {value} vs {other.get(step)}")
    return mismatches


def reproduce(project, ref: str | Path, tolerance: float = 0.0) -> Reproduction:
    """Train again from run `ref`'s recorded config and data version; compare metrics and curves."""
    from tunesmith.data import load_prepared
    from tunesmith.train import run_training

    original = load_record(find_run(project.runs_dir, ref))
    version = original.info.dataset_version or ""
    data_dir = project.data_dir / version
    if not version or not (data_dir / "manifest.json").exists():
        raise TunesmithError(f"run {original.run_id} used dataset version '{version}', which is not in "
                             f"{project.data_dir}", "Restore that data folder, or reproduce from an archive "
                             "made by `tunesmith runs export`.")
    recorded = record_environment(original.path, original.config, data_dir, after_training=True)
    config = original.folder.config()
    config.training.num_threads = recorded.get("threads") or config.training.num_threads
    current = environment(config.model_dump(mode="json"), data_dir, config.training.num_threads)
    dataset = load_prepared(data_dir)
    run_dir = project.new_run_dir(f"{config.method.name}-reproduce")
    run_training(config, dataset.split("train"), dataset.split("validation"), run_dir, dataset_version=version)
    record_environment(run_dir, config.model_dump(mode="json"), data_dir, threads=config.training.num_threads)
    copy = load_record(run_dir)
    result = Reproduction(original.path, run_dir, compare_metrics(original.metrics, copy.metrics, tolerance),
                          compare_curves(original, copy, tolerance), environment_differences(recorded, current))
    (run_dir / REPRODUCTION_FILE).write_text(json.dumps(result.to_json(), indent=2, default=str))
    return result
