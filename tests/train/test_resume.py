"""Crash safety: SIGKILL + resume is bit-exact, SIGTERM saves and stops, changed runs are refused."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import chat_records, tiny_config

from tunesmith.errors import TunesmithError
from tunesmith.train import run_training
from tunesmith.train.checkpoint import MARKER, complete_checkpoints

SETTINGS = {"epochs": 2, "eval_every": 2, "keep_checkpoints": 2}


def _config(model_dir, **extra):
    config = tiny_config(model_dir, "lora", **{**SETTINGS, **extra})
    # Dropout on: resuming must restore the random state too, not only weights and optimizer.
    return config.model_copy(update={"method": config.method.model_copy(update={"dropout": 0.1})})


def _child(model_dir, run_dir, signal_name: str, at_step: int) -> subprocess.CompletedProcess:
    """Train in a fresh process that sends itself `signal_name` after step `at_step`."""
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import torch
        torch.set_num_threads(1)
        from train_helpers import chat_records, tiny_config
        from test_resume import _config
        from tunesmith.train import run_training

        def hit(row):
            if row["step"] == {at_step}:
                os.kill(os.getpid(), signal.{signal_name})

        result = run_training(_config({str(model_dir)!r}), chat_records(20), chat_records(6, seed=2),
                              {str(run_dir)!r}, callbacks=[hit])
        print("STATUS", result.status)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _weights(run_dir):
    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def test_sigkill_then_resume_is_bit_exact(tiny_lm_dir, tmp_path):
    straight = tmp_path / "straight"
    run_training(_config(tiny_lm_dir), chat_records(20), chat_records(6, seed=2), straight)

    crashed = tmp_path / "crashed"
    proc = _child(tiny_lm_dir, crashed, "SIGKILL", at_step=5)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert json.loads((crashed / "run.json").read_text())["status"] == "running"
    assert [p.name for p in complete_checkpoints(crashed / "checkpoints")][-1] == "step-4"

    result = run_training(_config(tiny_lm_dir), chat_records(20), chat_records(6, seed=2), crashed, resume=True)
    assert result.status == "completed"
    expected, actual = _weights(straight), _weights(crashed)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    steps = [json.loads(line)["step"] for line in (crashed / "metrics.jsonl").read_text().splitlines()
             if '"train"' in line]
    assert steps == list(range(1, 11))  # the killed step 5 was dropped and redone, not logged twice


def test_sigterm_saves_checkpoint_and_stops(tiny_lm_dir, tmp_path):
    run_dir = tmp_path / "run"
    proc = _child(tiny_lm_dir, run_dir, "SIGTERM", at_step=3)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STATUS interrupted" in proc.stdout
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "interrupted" and info["steps"] == 3
    assert (run_dir / "checkpoints" / "step-3" / MARKER).exists()
    result = run_training(_config(tiny_lm_dir), chat_records(20), chat_records(6, seed=2), run_dir, resume=True)
    assert result.status == "completed" and result.metrics["steps"] == 10


def test_resume_refuses_changed_data_method_or_model(tiny_lm_dir, tiny_encoder_dir, tmp_path):
    run_dir = tmp_path / "run"
    run_training(_config(tiny_lm_dir, max_steps=2), chat_records(12), chat_records(4), run_dir, dataset_version="v1")
    with pytest.raises(TunesmithError, match="dataset_version was 'v1', now 'v2'"):
        run_training(_config(tiny_lm_dir), chat_records(12), chat_records(4), run_dir, resume=True,
                     dataset_version="v2")
    with pytest.raises(TunesmithError, match="method was 'lora', now 'dora'"):
        config = tiny_config(tiny_lm_dir, "dora", **SETTINGS)
        run_training(config, chat_records(12), chat_records(4), run_dir, resume=True, dataset_version="v1")
    other = tmp_path / "other-lm"
    other.symlink_to(tiny_lm_dir, target_is_directory=True)
    with pytest.raises(TunesmithError, match="base_model"):
        run_training(_config(other), chat_records(12), chat_records(4), run_dir, resume=True, dataset_version="v1")


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one_and_says_so(tiny_lm_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = _config(tiny_lm_dir, keep_checkpoints=3, restore_best=False)
    run_training(config, chat_records(20), chat_records(6, seed=2), run_dir)
    finished = _weights(run_dir)
    assert [p.name for p in complete_checkpoints(run_dir / "checkpoints")] == ["step-6", "step-8", "step-10"]
    newest = run_dir / "checkpoints" / "step-10" / "trainable.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    capsys.readouterr()
    result = run_training(config, chat_records(20), chat_records(6, seed=2), run_dir, resume=True)
    said = capsys.readouterr().err
    assert "skipping checkpoint step-10: trainable.safetensors is " in said and "were written" in said
    assert f"resuming {run_dir.name} from step-8" in said
    assert result.status == "completed" and result.metrics["steps"] == 10
    again = _weights(run_dir)
    assert all(torch.equal(finished[name], again[name]) for name in finished)  # steps 9-10 redone exactly
