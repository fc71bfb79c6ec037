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


class Hold:
    """While held, the stand-in trainer does not take its last step (fake_trainer.HOLD)."""

    def __init__(self, path: Path):
        self.path = path
        path.write_text("held\n")

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture
def hold(tmp_path, monkeypatch) -> Hold:
    """Jobs started from now on stay running (before their last step) until `hold.release()`."""
    held = Hold(tmp_path / "hold-the-fake-trainer")
    monkeypatch.setenv("FAKE_TRAINER_HOLD", str(held.path))
    yield held
    held.release()


@pytest.fixture
def project(tmp_path) -> Project:
    stand_in = tmp_path / "model-folder-the-fake-trainer-never-loads"
    stand_in.mkdir()
    (stand_in / "config.json").write_text("{}")
    return make_project(tmp_path / "project", stand_in)
