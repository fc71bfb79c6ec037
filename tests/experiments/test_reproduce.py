"""Acceptance: `tunesmith reproduce` on CPU gives identical metrics, also from an exported archive."""

from __future__ import annotations

import json
import shutil
import tarfile

import pytest

from tunesmith.errors import TunesmithError
from tunesmith.experiments import export_run, import_archive, reproduce
from tunesmith.experiments.environment import environment_differences, read_environment
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


def test_environment_differences_name_what_changed():
    recorded = {"packages": {"torch": "2.13.0", "peft": "0.21.2"}, "threads": 2, "machine": "x86_64",
                "data": {"files": {"train.parquet": "aa"}}, "base_model": {"weights": {"model.safetensors": "bb"}}}
    same = json.loads(json.dumps(recorded))
    assert environment_differences(recorded, same) == []
    changed = {**same, "packages": {"torch": "2.14.0", "peft": "0.21.2"}, "threads": 1,
               "data": {"files": {"train.parquet": "cc"}}}
    notes = environment_differences(recorded, changed)
    assert "torch 2.13.0 → 2.14.0" in notes and "threads 2 → 1" in notes
    assert "data files differ from the recorded hashes" in notes and len(notes) == 3


def test_reproduce_and_import_refuse_missing_data_and_foreign_files(project_copy, tmp_path):
    folder, run_id = project_copy
    (tmp_path / "notes.tar.gz").write_text("not an archive")
    with pytest.raises(TunesmithError, match="not a run archive"):
        import_archive(tmp_path / "notes.tar.gz", tmp_path / "x")
    shutil.rmtree(folder / "data")
    with pytest.raises(TunesmithError, match="dataset version"):
        reproduce(Project.load(folder), run_id)
