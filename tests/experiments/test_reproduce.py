"""Acceptance: `tunesmith reproduce` on CPU gives identical metrics, also from an exported archive."""

from __future__ import annotations

import json
import tarfile

from tunesmith.experiments import export_run, import_archive, reproduce
from tunesmith.experiments.environment import read_environment
from tunesmith.experiments.reproduce import compare_metrics
from tunesmith.project import Project


def test_reproduce_gives_identical_metrics(project_copy):
    folder, run_id = project_copy
    result = reproduce(Project.load(folder), run_id)
    assert result.identical, (result.rows, result.curve_mismatches)
    assert {row["metric"] for row in result.rows} >= {"train_loss", "val_loss", "steps"}
    assert result.reproduced.parent == folder / "runs" and result.reproduced.name != run_id
    saved = json.loads((result.reproduced / "reproduction.json").read_text())
    assert saved["identical"] is True
    original_env = read_environment(folder / "runs" / run_id)
    assert original_env["recorded_after_training"] is True
    assert original_env["packages"]["torch"] and original_env["seeds"] == {"training": 42, "data": 42}
    assert original_env["data"]["files"]["train.parquet"]  # the data hash is recorded
    assert read_environment(result.reproduced)["threads"] == 1


def test_metric_comparison_catches_any_difference():
    rows = compare_metrics({"val_loss": 1.25, "seconds": 3.0}, {"val_loss": 1.2500001, "seconds": 9.0})
    assert rows == [{"metric": "val_loss", "original": 1.25, "reproduced": 1.2500001, "match": False}]
    assert compare_metrics({"val_loss": 1.25}, {"val_loss": 1.2500001}, tolerance=1e-4)[0]["match"]


def test_exported_archive_reproduces_in_another_folder(project_copy, tmp_path):
    folder, run_id = project_copy
    archive = export_run(Project.load(folder), run_id)
    assert archive == folder / "exports" / f"{run_id}.tar.gz"
    with tarfile.open(archive) as packed:
        names = set(packed.getnames())
    assert {"tunesmith.yaml", f"runs/{run_id}/config.yaml", f"runs/{run_id}/metrics.jsonl",
            f"runs/{run_id}/run.json", f"runs/{run_id}/environment.json"} <= names
    assert any(n.endswith("manifest.json") for n in names) and any(n.endswith("train.parquet") for n in names)
    assert not any("/checkpoints" in n or "/adapter" in n for n in names)  # weights only on request
    elsewhere, imported = import_archive(archive, tmp_path / "elsewhere")
    assert imported == run_id
    result = reproduce(Project.load(elsewhere), run_id)
    assert result.identical, (result.rows, result.curve_mismatches)
