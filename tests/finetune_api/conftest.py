"""Fixtures: a project whose OpenAI model names map to a test model, and a fast stand-in trainer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ft_helpers import make_project

from tunesmith.project import Project

HERE = Path(__file__).parent
FAKE_TRAINER = "fake_trainer:run_training"


@pytest.fixture
def fake_trainer_importable(monkeypatch):
    """The worker's child process imports the fake trainer from this folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    return FAKE_TRAINER


@pytest.fixture
def project(tmp_path) -> Project:
    stand_in = tmp_path / "model-folder-the-fake-trainer-never-loads"
    stand_in.mkdir()
    (stand_in / "config.json").write_text("{}")
    return make_project(tmp_path / "project", stand_in)
