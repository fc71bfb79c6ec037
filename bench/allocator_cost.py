"""Step-time cost of the fixed glibc mmap threshold and of gradient checkpointing, as ratios in one process.

One `run_training` of LoRA r16 on SmolLM2-135M whose every step is the same batch (the quickstart's widest 8
chats, repeated), so steps differ only by the condition each is run under. Conditions rotate step by step,
after one warm-up step: the mmap threshold fixed at 128 KiB (train/allocator.py) or at 32 MiB (glibc's
ceiling for its dynamic threshold, which is where the default settles once a step has freed its MB-sized
tensors), × gradient checkpointing on or off. Reports the median step time of each, relative to
"32 MiB, no checkpointing" (the allocator's default behaviour). Steps are timed in process CPU time (user +
system, so the page faults and mmap calls of the fixed threshold count), one thread: other load on the machine
stretches wall time but hardly CPU time. Ratios within one process are indicative; absolute times are not
reported.

    .venv/bin/python bench/allocator_cost.py [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import train_memory  # (the same case definitions and data)

CONDITIONS = list(itertools.product((128 * 1024, 32 * 1024 * 1024), (False, True)))


def _checkpointing(model, on: bool) -> None:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if on:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        base.gradient_checkpointing_disable()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from tunesmith.train import allocator, loop, run

    steps = 1 + args.rounds * len(CONDITIONS)
    config = train_memory.build_config("lora-quickstart", steps, args.threads)
    config = config.model_copy(update={"training": config.training.model_copy(update={"eval_every": 10_000})})
    widest, rest = train_memory.quickstart(config, 1, 8)
    times: dict[tuple, list[float]] = {c: [] for c in CONDITIONS}
    original, calls = loop.train_step, [0]

    def timed(model, *rest_args, **kwargs):
        n = calls[0]
        calls[0] += 1
        condition = CONDITIONS[(n - 1) % len(CONDITIONS)] if n else CONDITIONS[0]
        libc = allocator._glibc()
        libc.mallopt(allocator.M_MMAP_THRESHOLD, condition[0])
        _checkpointing(model, condition[1])
        started = time.process_time()
        result = original(model, *rest_args, **kwargs)
        if n:
            times[condition].append(time.process_time() - started)
        print(f"step {n} {condition}: {time.process_time() - started:.2f} CPU s", file=sys.stderr, flush=True)
        return result

    loop.train_step = timed
    with tempfile.TemporaryDirectory() as folder:
        run.run_training(config, widest[:1] * 8 * steps, rest, Path(folder) / "run")
    reference = statistics.median(times[(32 * 1024 * 1024, False)])
    rows = {f"threshold {t // 1024} KiB, checkpointing {'on' if c else 'off'}":
            round(statistics.median(times[(t, c)]) / reference, 3) for t, c in CONDITIONS}
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "ratio_to_default": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
