"""A tiny chat project with one finished run, built once per session (tests copy it before changing it)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml


def chat_records(n: int) -> list[dict]:
    colours = ["red", "blue", "green", "gold", "black", "white"]
    return [{"id": f"c{i}", "messages": [
        {"role": "user", "content": f"What colour is item {i}?" + " Please answer." * (i % 3)},
        {"role": "assistant", "content": f"Item {i} is {colours[i % len(colours)]}."}]} for i in range(n)]


def write_project(folder, model_dir, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_records(40)))
    config = {"name": "demo", "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
              "model": {"name": str(model_dir), "max_length": 64},
              "method": {"name": "lora", "r": 4, "alpha": 8, "dropout": 0.0},
              "training": {"num_threads": 1, "max_steps": 6, "eval_every": 2, "batch_size": 4,
                           "learning_rate": 5e-3, "warmup_ratio": 0.0}, **extra}
    (folder / "tunesmith.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="session")
def trained_project(tiny_lm_dir, tmp_path_factory):
    """(project folder, run id) of a finished 6-step LoRA run; treat as read-only."""
    from tunesmith.data import prepare
    from tunesmith.project import Project
    from tunesmith.train import train

    folder = tmp_path_factory.mktemp("experiments") / "proj"
    write_project(folder, tiny_lm_dir)
    project = Project.load(folder)
    return folder, train(project, prepare(project)).run_dir.name


@pytest.fixture
def project_copy(trained_project, tmp_path):
    """A private copy of the trained project, free to modify."""
    folder, run_id = trained_project
    copy = tmp_path / "proj"
    shutil.copytree(folder, copy)
    return copy, run_id
