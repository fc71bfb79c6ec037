"""Helpers shared by the fine-tuning API tests (a uniquely named module: tests folders are not packages)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tunesmith.config import ProjectConfig
from tunesmith.project import Project


def chat_line(question: str, answer: str, **extra) -> str:
    return json.dumps({"messages": [{"role": "user", "content": question},
                                    {"role": "assistant", "content": answer, **extra}]})


def training_jsonl(n: int = 4) -> bytes:
    return "\n".join(chat_line(f"What is {i} + {i}?", f"{i + i}.") for i in range(n)).encode() + b"\n"


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def make_project(root: Path, model_dir: Path | str, **training) -> Project:
    config = ProjectConfig.model_validate({
        "name": "ft-test",
        "training": {"epochs": 2, "batch_size": 2, "eval_every": 2, "max_steps": None, **training},
        "finetune_api": {"model_map": {"gpt-4o-mini": str(model_dir)}, "evaluate": False, "max_restarts": 1},
    })
    return Project.create(root, config)
