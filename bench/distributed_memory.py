"""Peak memory per process: full fine-tuning of smollm2-135m-instruct on 2 CPU processes, ddp vs fsdp.

Each layout runs a few optimizer steps under torchrun (gloo, one thread per process) on the quickstart
support chats; every process reports its peak RSS (VmHWM) and the bytes of weights, gradients-to-be
and optimizer state it holds locally at the end. Usage:

    .venv/bin/python bench/distributed_memory.py [--steps 3]

Writes bench/results/distributed_memory.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "distributed_memory.md"

WORKER = """
import json, sys, torch
torch.set_num_threads(1)
from torch.distributed.tensor import DTensor
from tunesmith.config import parse_config
from tunesmith.quickstart.dataset import support_examples
from tunesmith.resources import peak_rss
from tunesmith.train import loop, run_training

seen = {}
original = loop.run_loop
def spy(**kwargs):
    seen["model"], seen["optimizer"] = kwargs["model"], kwargs["optimizer"]
    return original(**kwargs)
import tunesmith.train.run as run
run.run_loop = spy
records = [{"messages": r["messages"]} for r in support_examples()][:48]
config = parse_config({"objective": {"task": "chat"}, "model": {"name": "smollm2-135m-instruct", "max_length": 128},
                       "method": {"name": "full"}, "training": {"distributed": sys.argv[1], "batch_size": 2,
                       "max_steps": int(sys.argv[2]), "eval_every": 1000, "learning_rate": 1e-5, "num_threads": 1}})
result = run_training(config, records, records[:4], sys.argv[3])
local = lambda t: (t.to_local() if isinstance(t, DTensor) else t).numel() * t.element_size()
weights = sum(local(p) for p in seen["model"].parameters())
state = sum(local(v) for s in seen["optimizer"].state.values() for v in s.values() if torch.is_tensor(v))
print("MEASURE", json.dumps({"rank": torch.distributed.get_rank(), "peak_rss": peak_rss(), "weights": weights,
      "optimizer_state": state, "tokens_per_second": result.metrics["tokens_per_second"]}), flush=True)
"""


NOTE = ("Weights and optimizer state held per process halve under fsdp. Peak RSS falls much less; not broken "
        "down here, but every process loads the whole base model before sharding it, and the main process gathers "
        "whole weights and optimizer state for each checkpoint and builds a whole model for the final save. "
        "Throughput (a few steps on a shared machine: rough) is lower on CPU; likely causes: under fsdp the loss "
        "computes logits at every position (the whole model's forward), and gloo collectives run in the training "
        "thread.")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(layout: str, steps: int, folder: Path) -> list[dict]:
    script = folder / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                           "127.0.0.1", "--master_port", str(_port()), str(script), layout, str(steps),
                           str(folder / layout)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    rows = [json.loads(line.split("MEASURE", 1)[1]) for line in proc.stdout.splitlines() if "MEASURE" in line]
    return sorted(rows, key=lambda row: row["rank"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    mb = 1 / 2**20
    lines = ["# Peak memory per process: ddp vs fsdp", "",
             f"Full fine-tuning of smollm2-135m-instruct (fp32, AdamW), 2 CPU processes (gloo, 1 thread each), "
             f"batch 2 per process, max_length 128, {args.steps} optimizer steps (`bench/distributed_memory.py`).",
             "", "| layout | rank | peak RSS (MB) | weights held (MB) | optimizer state held (MB) | tokens/s |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("ddp", "fsdp"):
            for row in measure(layout, args.steps, Path(tmp)):
                lines.append(f"| {layout} | {row['rank']} | {row['peak_rss'] * mb:,.0f} | {row['weights'] * mb:,.0f} | "
                             f"{row['optimizer_state'] * mb:,.0f} | {row['tokens_per_second']:,.0f} |")
    lines += ["", NOTE]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
