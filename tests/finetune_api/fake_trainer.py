"""A stand-in for `tunesmith.train.run_training` with the same folder contract, fast and controllable.

It writes metrics.jsonl and checkpoints/step-N/ like the real trainer, checkpoints and stops on SIGTERM,
and resumes from its newest checkpoint; so the worker's state machine is tested in a second, while the
real trainer is exercised by the end-to-end test.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

STEP_SECONDS = 0.15


class Stopped(Exception):
    pass


def run_training(config, train_records, validation_records, run_dir, resume=False, dataset_version=None):
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    if any("FAIL" in m["content"] for r in train_records for m in r["messages"]):
        raise ValueError("the fake trainer was asked to fail")
    steps = int(config.training.epochs) * len(train_records)
    done = [int(p.name[5:]) for p in (run_dir / "checkpoints").glob("step-*")] if resume else []
    start = max(done, default=0)
    (run_dir / "config.json").write_text(json.dumps(config.model_dump(mode="json")))
    with (run_dir / "metrics.jsonl").open("a") as log:
        for step in range(start + 1, steps + 1):
            time.sleep(STEP_SECONDS)
            log.write(json.dumps({"step": step, "loss": 1.0 / step, "lr": config.training.learning_rate}) + "\n")
            log.flush()
            if step % config.training.eval_every == 0 or stop["now"]:
                (run_dir / "checkpoints" / f"step-{step}").mkdir(parents=True, exist_ok=True)
            if stop["now"]:
                raise Stopped(f"stopped at step {step}")
    (run_dir / "adapter").mkdir(exist_ok=True)
    (run_dir / "adapter" / "adapter_config.json").write_text("{}")
    return {"metrics": {"trained_tokens": 10 * steps, "steps": steps}}
