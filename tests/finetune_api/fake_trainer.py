"""A stand-in for `tunesmith.train.run_training` with the same folder contract, fast and controllable.

Like the real trainer it writes run.json (running, then completed or interrupted), metrics.jsonl and whole
checkpoints/step-N/ (with the COMPLETE marker),
keeps the newest `keep_checkpoints`, checkpoints and returns "interrupted" on SIGTERM, and on resume
rewrites metrics.jsonl up to its newest checkpoint. So the worker's state machine is tested in seconds,
while the real trainer is exercised by the end-to-end test.

While the file named by $FAKE_TRAINER_HOLD exists, the last step waits (a stop request still ends it): a test
that looks at a running job holds it running however slow the machine is, instead of racing its steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from types import SimpleNamespace

from tunesmith.runs import RUN_FILE

# tunesmith.train.checkpoint's marker, spelled out so this stand-in starts without importing torch
# (test_jobs_api checks they agree)
MARKER = "COMPLETE"
STEP_SECONDS = 0.15
HOLD = "FAKE_TRAINER_HOLD"


def _wait_while_held(stop: dict) -> None:
    hold = os.environ.get(HOLD)
    while hold and os.path.exists(hold) and not stop["now"]:
        time.sleep(0.02)


def complete_checkpoints(root: Path) -> list[Path]:
    found = [p for p in root.glob("step-*") if (p / MARKER).exists()] if root.exists() else []
    return sorted(found, key=lambda p: int(p.name[5:]))


def _checkpoint(run_dir: Path, step: int, keep: int) -> None:
    folder = run_dir / "checkpoints" / f"step-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("ok\n")
    for old in complete_checkpoints(run_dir / "checkpoints")[:-keep]:
        shutil.rmtree(old)


def _record(run_dir: Path, status: str, **info) -> None:
    (run_dir / RUN_FILE).write_text(json.dumps({"status": status, "method": "lora", "task": "chat",
                                                "artifact": "adapter", **info}))


def run_training(config, train_records, validation_records, run_dir, resume=False, dataset_version=None):
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    if any("FAIL" in m["content"] for r in train_records for m in r["messages"]):
        raise ValueError("the fake trainer was asked to fail")
    tc = config.training
    steps = int(tc.epochs) * len(train_records)
    saved = complete_checkpoints(run_dir / "checkpoints") if resume else []
    start = int(saved[-1].name[5:]) if saved else 0
    metrics = run_dir / "metrics.jsonl"
    kept = [line for line in metrics.read_text().splitlines() if json.loads(line)["step"] <= start] \
        if metrics.exists() else []
    metrics.write_text("".join(line + "\n" for line in kept))
    _record(run_dir, "running", planned_steps=steps)
    with metrics.open("a") as log:
        for step in range(start + 1, steps + 1):
            time.sleep(STEP_SECONDS)
            if step == steps:
                _wait_while_held(stop)
            row = {"split": "train", "step": step, "train_loss": 1.0 / step, "tokens": 10 * step}
            log.write(json.dumps(row) + "\n")
            log.flush()
            if step % tc.eval_every == 0 or step == steps or stop["now"]:
                _checkpoint(run_dir, step, tc.keep_checkpoints)
            if stop["now"]:
                _record(run_dir, "interrupted", steps=step)
                return SimpleNamespace(status="interrupted", metrics={})
    (run_dir / "adapter").mkdir(exist_ok=True)
    (run_dir / "adapter" / "adapter_config.json").write_text("{}")
    _record(run_dir, "completed", steps=steps, tokens=10 * steps)
    return SimpleNamespace(status="completed", metrics={"tokens": 10 * steps, "steps": steps})
