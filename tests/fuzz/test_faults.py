"""Fault injection: training killed with SIGKILL at random steps and at every point inside a checkpoint
write, then resumed, ends bit-exact with an uninterrupted run, and leaves no staging or temporary files.

Each attempt runs in a forked copy of this process (warmed by the reference run: nothing to import or
compile again, so 20 seeds take seconds) that dies by a real SIGKILL: at a training step from a step
callback, or inside the checkpoint code through its test hook (TUNESMITH_TEST_CRASH_AT, see
train/checkpoint.py). One more seed goes through the real `tunesmith train` and `tunesmith train --resume`
commands in fresh processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import traceback

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tunesmith.config import parse_config
from tunesmith.train import checkpoint as ckpt
from tunesmith.train import monitor, run_training
from tunesmith.train.checkpoint import CRASH_ENV, CRASH_POINTS

SEEDS = 20
STEPS = 6  # 12 examples, batch 4, 2 epochs
CHECKPOINTS = (2, 4, 6)  # eval_every 2
POINTS = ("step", *CRASH_POINTS)


def _records(n: int, offset: int = 0) -> list[dict]:
    colours = ["red", "blue", "green", "gold", "black"]
    return [{"messages": [{"role": "user", "content": f"What colour is item {i}?" + " Please." * (i % 3)},
                          {"role": "assistant", "content": f"Item {i} is {colours[i % 5]}."}]}
            for i in range(offset, offset + n)]


TRAIN, VALIDATION = _records(12), _records(4, offset=100)


def _config(model_dir):
    # Dropout on: a resume must restore the random state, not only weights and optimizer. keep_checkpoints 1
    # makes every later checkpoint prune the one before, so kills land inside pruning too.
    return parse_config({
        "objective": {"task": "chat"}, "model": {"name": str(model_dir), "max_length": 48},
        "method": {"name": "lora", "r": 4, "alpha": 8, "dropout": 0.1},
        "training": {"epochs": 2, "batch_size": 4, "eval_every": 2, "keep_checkpoints": 1, "learning_rate": 5e-3,
                     "warmup_ratio": 0.0, "num_threads": 1}})


@pytest.fixture(scope="module")
def micro_lm_dir(tmp_path_factory):
    """The tiny test Llama made smaller still (1 layer, hidden 16): each of the ~50 runs takes about a second."""
    from tunesmith.models.tiny import save_tiny

    return save_tiny("causal-lm", tmp_path_factory.mktemp("micro-lm"), hidden=16, layers=1)


@pytest.fixture
def lean_runs(monkeypatch, micro_lm_dir):
    """Skip what costs more than the training and is no part of what a resume restores: redrawing loss.png
    after each validation, and parsing the 49k-token tokenizer anew in every forked run (it is parsed
    once here; each fork gets its own copy)."""
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.train import setup

    tokenizer = load_tokenizer(micro_lm_dir)
    monkeypatch.setattr(monitor, "plot_losses", lambda rows, path: None)
    monkeypatch.setattr(setup, "load_tokenizer", lambda model, trust_remote_code=False: tokenizer)


def _attempt(config, run_dir, resume: bool, crash: tuple[str, int] | None) -> int:
    """Train (or resume) in a forked process, SIGKILLed at `crash` (point, n-th time); the wait status."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            callbacks = []
            if crash and crash[0] == "step":
                def kill_at(row, step=crash[1]):
                    if row["step"] == step:
                        os.kill(os.getpid(), signal.SIGKILL)
                callbacks.append(kill_at)
            elif crash:
                os.environ[CRASH_ENV] = f"{crash[0]}:{crash[1]}"
            run_training(config, TRAIN, VALIDATION, run_dir, resume=resume, callbacks=callbacks)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def _plan(seed: int) -> list[tuple[str, int]]:
    """One or two kills; the first point cycles through all of them so that 20 seeds cover each twice."""
    rng = random.Random(seed)
    points = [POINTS[seed % len(POINTS)]] + ([rng.choice(POINTS)] if rng.random() < 0.25 else [])
    return [(point, rng.randint(1, STEPS) if point == "step" else rng.randint(1, len(CHECKPOINTS)))
            for point in points]


def _train_losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(row["step"], row["train_loss"]) for row in rows if row["split"] == "train"]


def _leftovers(run_dir) -> list[str]:
    """Staging checkpoint folders and temporary files: what a kill may leave and a finished run must not."""
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.name.startswith(".step-")
                  or ".tmp" in p.name)


def _assert_same_run(expected, run_dir) -> None:
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["steps"] == STEPS
    want, got = (load_file(str(d / "adapter" / "adapter_model.safetensors")) for d in (expected, run_dir))
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    assert _train_losses(run_dir) == _train_losses(expected)  # the same path, step by step, logged once
    assert not _leftovers(run_dir), _leftovers(run_dir)
    assert [p.name for p in ckpt.complete_checkpoints(run_dir / "checkpoints")]


def test_kill_anywhere_then_resume_is_bit_exact(micro_lm_dir, lean_runs, tmp_path):
    config = _config(micro_lm_dir)
    straight = tmp_path / "straight"
    # In this process: the reference run, and every module and template it loads is then already in each fork.
    run_training(config, TRAIN, VALIDATION, straight)
    kills = {point: 0 for point in POINTS}
    for seed in range(SEEDS):
        run_dir = tmp_path / f"seed-{seed}"
        for attempt, crash in enumerate(_plan(seed)):
            status = _attempt(config, run_dir, resume=attempt > 0, crash=crash)
            if os.WIFSIGNALED(status):
                assert os.WTERMSIG(status) == signal.SIGKILL
                kills[crash[0]] += 1
            else:  # that point was not reached this time (the run ended first)
                assert os.waitstatus_to_exitcode(status) == 0, f"seed {seed}: {crash}"
        assert _attempt(config, run_dir, resume=True, crash=None) == 0, f"seed {seed}"
        _assert_same_run(straight, run_dir)
    print(f"faults: {SEEDS} seeds, {sum(kills.values())} kills, per point {kills}: all bit-exact")
    assert all(kills.values()), kills  # every point was really hit at least once
    assert sum(kills.values()) >= SEEDS, kills


def test_cli_killed_inside_a_checkpoint_write_resumes_bit_exact(micro_lm_dir, tmp_path):
    """The real commands in fresh processes: killed while writing the second checkpoint (optimizer state
    written, no marker yet), then `tunesmith train --resume` picks the run up from the first."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN + VALIDATION))
    config = _config(micro_lm_dir).model_dump(mode="json")
    config["data"] = {"sources": [{"path": "chats.jsonl"}], "validation_share": 0.25}
    (project / "tunesmith.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "tunesmith", "train", str(project)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    killed = subprocess.run(command, env={**env, CRASH_ENV: "optimizer:2"}, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (run_dir,) = (project / "runs").iterdir()
    assert list((run_dir / "checkpoints").glob(".step-4-*"))  # the half-written checkpoint was left behind
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {run_dir.name} from step-2" in resumed.stderr

    from tunesmith.data import prepare
    from tunesmith.project import Project
    from tunesmith.train import train

    loaded = Project.load(project)  # the uninterrupted run, in this process, on the same prepared data
    _assert_same_run(train(loaded, prepare(loaded)).run_dir, run_dir)
