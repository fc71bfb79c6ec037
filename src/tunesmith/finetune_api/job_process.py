"""The child process that trains one job: `python -m tunesmith.finetune_api.job_process SPEC.json`.

Training runs in its own process so a cancel is a SIGTERM (the trainer checkpoints and stops) and a
server crash cannot leave training running unseen: the child stops itself when its parent disappears.
The outcome is written to the spec's `result_path` as JSON; progress is read from the run folder.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from tunesmith.errors import TunesmithError


def load_callable(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _stop_when_orphaned() -> None:
    parent = os.getppid()  # the server, or its launcher (which exits with the server)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # the same path as a cancel: checkpoint, then stop

    threading.Thread(target=watch, daemon=True, name="orphan-watch").start()


def _write(path: Path, outcome: dict[str, Any]) -> None:
    staging = path.with_suffix(".partial")
    staging.write_text(json.dumps(outcome, default=str))
    os.replace(staging, path)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from tunesmith.config import ProjectConfig

    config = ProjectConfig.model_validate(spec["config"])
    train = json.loads(Path(spec["train_path"]).read_text())
    validation = json.loads(Path(spec["validation_path"]).read_text()) if spec.get("validation_path") else []
    trainer = load_callable(spec["trainer"])
    result = trainer(config, train, validation, Path(spec["run_dir"]), resume=spec["resume"],
                     dataset_version=spec.get("dataset_version"))
    if getattr(result, "status", None) == "interrupted":  # SIGTERM: the trainer checkpointed and returned
        return {"status": "stopped"}
    outcome: dict[str, Any] = {"status": "succeeded", "run_dir": spec["run_dir"]}
    metrics = getattr(result, "metrics", None) or (result.get("metrics") if isinstance(result, dict) else None)
    if isinstance(metrics, dict):
        outcome["metrics"] = metrics
    if spec.get("evaluator"):
        try:
            outcome["report"] = load_callable(spec["evaluator"])(spec, config, train, validation)
        except Exception as err:  # the model is trained and usable; a failed report must not fail the job
            traceback.print_exc()
            outcome["report_error"] = f"{type(err).__name__}: {err}"
    return outcome


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    _stop_when_orphaned()
    result_path = Path(spec["result_path"])
    try:
        outcome = run(spec)
    except TunesmithError as err:
        outcome = {"status": "failed", "error": {"code": "invalid_request", "message": str(err)}}
    except KeyboardInterrupt:
        outcome = {"status": "stopped"}
    except Exception as err:
        traceback.print_exc()
        outcome = {"status": "failed", "error": {"code": "training_error",
                                                 "message": f"{type(err).__name__}: {err}"}}
    _write(result_path, outcome)
    return 0 if outcome["status"] == "succeeded" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
