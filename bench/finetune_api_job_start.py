"""Benchmark: how long a fine-tuning API job takes to start training, with and without the fork server.

Run: .venv/bin/python bench/finetune_api_job_start.py [--jobs 3]
Writes bench/results/finetune_api_job_start.md. Each job trains a LoRA on the tiny 2-layer test model for a
few steps, so the numbers are the API's own overhead: queue → validating_files → a process ready to train
(imports, model load) → first optimizer step → succeeded. Both modes run back to back in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tunesmith.config import ProjectConfig
from tunesmith.finetune_api import FinetuneAPI
from tunesmith.models.tiny import save_tiny
from tunesmith.project import Project

ROWS = b"".join(b'{"messages": [{"role": "user", "content": "Question %d?"}, '
                b'{"role": "assistant", "content": "Answer %d."}]}\n' % (i, i) for i in range(8))


def one_job(api: FinetuneAPI, file_id: str) -> tuple[float, float]:
    started = time.perf_counter()
    job = api.jobs.create({"model": "tiny", "training_file": file_id, "hyperparameters": {"n_epochs": 1}})
    first_step = None
    while True:
        row = api.jobs.get(job["id"])
        if first_step is None and api.store.select("events", "job_id = ? AND type = 'metrics'", (job["id"],)):
            first_step = time.perf_counter() - started
        if row["status"] in {"succeeded", "failed", "cancelled"}:
            assert row["status"] == "succeeded", row["error"]
            return first_step or float("nan"), time.perf_counter() - started
        time.sleep(0.05)


def measure(root: Path, model: Path, launcher: bool, jobs: int) -> dict:
    config = ProjectConfig.model_validate({
        "training": {"batch_size": 4, "eval_every": 50},
        "finetune_api": {"model_map": {"tiny": str(model)}, "evaluate": False}})
    project = Project.create(root / ("launcher" if launcher else "fresh"), config)
    api = FinetuneAPI(project, evaluator=None, poll_seconds=0.05, use_launcher=launcher)
    api.worker.start()
    try:
        file_id = api.files.upload("train.jsonl", ROWS, "fine-tune")["id"]
        runs = [one_job(api, file_id) for _ in range(jobs)]
    finally:
        api.worker.stop()
    return {"first": [r[0] for r in runs], "total": [r[1] for r in runs]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = save_tiny("causal-lm", root / "tiny")
        results = {mode: measure(root, model, mode == "fork server", args.jobs)
                   for mode in ("fresh process per job", "fork server")}
    load = os.getloadavg()[0]
    lines = ["# Fine-tuning API: job start latency", "",
             f"{args.jobs} jobs per mode, tiny 2-layer model, LoRA, 2 optimizer steps each; "
             f"machine load average {load:.1f} on {os.cpu_count()} cores (shared, so compare the two rows only).",
             "", "| mode | create → first step (s, median of jobs 2+) | create → succeeded (s, median of jobs 2+) "
             "| first job: create → first step (s) |",
             "|---|---|---|---|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {statistics.median(r['first'][1:]):.1f} | {statistics.median(r['total'][1:]):.1f} "
                     f"| {r['first'][0]:.1f} |")
    fresh, fork = (statistics.median(results[m]["first"][1:]) for m in results)
    lines += ["", f"The fork server starts training {fresh / fork:.1f}× sooner after the first job (which waits "
              "for the fork server's one-time imports)."]
    out = Path(__file__).parent / "results" / "finetune_api_job_start.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
