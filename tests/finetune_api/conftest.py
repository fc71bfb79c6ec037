"""Fixtures: a project whose OpenAI model names map to a test model, and a fast stand-in trainer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.project import Project

HERE = Path(__file__).parent
FAKE_TRAINER = "fake_trainer:run_training"


@pytest.fixture
def fake_trainer_importable(monkeypatch):
    """The worker's child process imports the fake trainer from this folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    return FAKE_TRAINER


def make_project(root: Path, model_dir: Path | str, **training) -> Project:
    config = ProjectConfig.model_validate({
        "name": "ft-test",
        "training": {"epochs": 2, "batch_size": 2, "eval_every": 2, "max_steps": None, **training},
        "finetune_api": {"model_map": {"gpt-4o-mini": str(model_dir)}, "evaluate": False, "max_restarts": 1},
    })
    return Project.create(root, config)


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "project", tmp_path / "no-model-needed-by-the-fake-trainer")
