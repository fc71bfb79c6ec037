"""Logs that are not terminals get no library progress bars (transformers' "Loading weights", hub, datasets)."""

import json
import os
import subprocess
import sys

import yaml
from train_helpers import chat_records


def test_train_with_captured_stderr_prints_no_library_bars(tiny_lm_dir, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_records(12)))
    config = {"name": "demo", "objective": {"task": "chat"}, "data": {"sources": [{"path": "chats.jsonl"}]},
              "model": {"name": str(tiny_lm_dir), "max_length": 64},
              "training": {"num_threads": 1, "max_steps": 2, "eval_every": 2, "batch_size": 4}}
    (project / "tunesmith.yaml").write_text(yaml.safe_dump(config))
    switches = {"HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"}
    env = {k: v for k, v in os.environ.items() if k not in switches}
    done = subprocess.run([sys.executable, "-c", "from tunesmith.cli import main; main()", "train", str(project)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "validation loss" in done.stderr  # our own plain progress lines still arrive
    assert "Loading weights" not in done.stderr and "it/s" not in done.stderr, done.stderr
