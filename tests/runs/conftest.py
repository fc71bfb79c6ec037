"""Run folders for the run-contract tests: the committed old project, and hand-made folders in any state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

OLD_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "old_project"


@pytest.fixture
def old_project(tmp_path, monkeypatch):
    """A private copy of tests/fixtures/old_project (written by main's code at 3a8d5b3), as the current
    folder: its config names the base model `base`, relative to the project folder."""
    folder = tmp_path / "old_project"
    shutil.copytree(OLD_PROJECT, folder)
    monkeypatch.chdir(folder)
    return folder


def write_run(project: Path, name: str, artifact: bool = True, **info) -> Path:
    """A run folder as training leaves it, without real weights: config.yaml, run.json, adapter/ (a stand-in)."""
    folder = project / "runs" / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "tiny"}, "method": {"name": "lora"}}))
    record = {"status": "completed", "method": "lora", "task": "chat", "base_model": "tiny", "artifact": "adapter",
              "dataset_version": "abc123", **info}
    (folder / "run.json").write_text(json.dumps(record))
    if artifact:
        (folder / "adapter").mkdir()
        (folder / "adapter" / "adapter_config.json").write_text("{}")
    return folder


@pytest.fixture
def project(tmp_path):
    """An empty project folder (tunesmith.yaml only)."""
    from tunesmith.config import parse_config
    from tunesmith.project import Project

    root = tmp_path / "proj"
    Project.create(root, parse_config({"name": "proj"}))
    return root


@pytest.fixture
def make_run():
    """`make_run(project, name, artifact=True, **run_json)`: a hand-made run folder."""
    return write_run
