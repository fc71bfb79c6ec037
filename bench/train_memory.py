"""Peak resident memory of training, per phase, against targets and the planner's prediction.

Each case trains in its own process (VmHWM is per process) through the real `run_training` (model load,
encoding, steps, validation, checkpoints, the final save), with the high-water mark reset at each phase
boundary (`/proc/self/clear_refs` 5), so every phase reports its own peak: load (imports, model, method,
encoding, optimizer), first step, steady state (the other steps), validation, save (checkpoints and the
final adapter/model). Peak memory is reached in the first steps, so a few steps suffice; each case is
built so that those steps take its widest batches. The planner's prediction is computed in this (parent)
process for the same config and data. Throughput is not measured here (see bench/train_throughput.py).

    .venv/bin/python bench/train_memory.py [--steps 8] [--only lora-quickstart] [--threads N] [--no-write]

Exits 1 when a peak exceeds its target or the prediction misses the measured peak by more than 15 %.
Writes bench/results/train_memory.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RESULTS = Path(__file__).parent / "results" / "train_memory.md"
GB = 1e9
PREDICTION_TOLERANCE = 0.15
LM = "smollm2-135m-instruct"
LORA = {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05}  # the quickstart's recipe

# name: (what, target peak bytes, config, data builder name)
CASES = {
    "lora-quickstart": ("LoRA r16 SmolLM2-135M, quickstart chats (~86 tokens), batch 8", 1.5 * GB,
                        {"model": {"name": LM, "max_length": 256}, "method": LORA}, "quickstart"),
    "lora-350": ("LoRA r16 SmolLM2-135M, batch 8 × 350 tokens", 2.5 * GB,
                 {"model": {"name": LM, "max_length": 350}, "method": LORA}, "long_chats"),
    "minilm-short": ("full FT minilm-l6 classification, ~15-token texts, batch 8", 0.8 * GB,
                     {"objective": {"task": "classification"}, "model": {"name": "minilm-l6", "max_length": 256},
                      "method": {"name": "full"}, "few_shot": {"recipe": "head"}}, "short_texts"),
    "minilm-221": ("full FT minilm-l6 classification, 221-token texts, batch 8", 0.8 * GB,
                   {"objective": {"task": "classification"}, "model": {"name": "minilm-l6", "max_length": 221},
                    "method": {"name": "full"}, "few_shot": {"recipe": "head"}}, "long_texts"),
}
PHASES = ("load", "first step", "steady state", "validation", "save")


# --- data (built in the parent, handed to the child as JSON) -------------------------------------------

def _support():
    from tunesmith.quickstart.dataset import support_examples

    return support_examples()


def quickstart(config, steps: int, val: int) -> tuple[list, list]:
    """The quickstart's chats; the longest go to training, so the few measured steps are its widest."""
    from tunesmith.plan.record import token_counts

    records = [{"messages": r["messages"]} for r in _support()]
    lengths = token_counts(config, records)[0]
    order = sorted(range(len(records)), key=lambda i: -lengths[i])
    return [records[i] for i in order[:steps * 8]], [records[i] for i in order[steps * 8:steps * 8 + val]]


def long_chats(config, steps: int, val: int) -> tuple[list, list]:
    """Multi-turn support conversations longer than max_length (350), so every row is 350 tokens."""
    rng = random.Random(0)
    pool = _support()
    records = []
    for _ in range(steps * 8 + val):
        messages = [pool[0]["messages"][0]] if pool[0]["messages"][0]["role"] == "system" else []
        while sum(len(m["content"]) for m in messages) < 2200:  # ~4 characters a token: > 350 tokens
            turn = rng.choice(pool)["messages"]
            messages += [m for m in turn if m["role"] != "system"]
        records.append({"messages": messages})
    return records[:steps * 8], records[steps * 8:]


def _texts(long: bool, n: int) -> list[dict]:
    rng = random.Random(1)
    pool = _support()
    records = []
    for _ in range(n):
        record = rng.choice(pool)
        question = record["messages"][-2]["content"]
        text = question
        while long and len(text) < 1400:  # > 221 tokens
            text += " " + rng.choice(pool)["messages"][-1]["content"]
        records.append({"text": text, "label": record["metadata"]["topic"]})
    return records


def _split(records: list[dict], steps: int, val: int) -> tuple[list, list]:
    """Training rows for `steps` batches; validation rows only of labels training saw (training refuses others)."""
    train = records[:steps * 8]
    seen = {r["label"] for r in train}
    return train, [r for r in records[steps * 8:] if r["label"] in seen][:val]


def short_texts(config, steps: int, val: int) -> tuple[list, list]:
    return _split(_texts(False, steps * 8 + 4 * val), steps, val)


def long_texts(config, steps: int, val: int) -> tuple[list, list]:
    return _split(_texts(True, steps * 8 + 4 * val), steps, val)


def build_config(case: str, steps: int, threads: int | None, checkpointing: bool | str = "auto",
                 release: bool | str = True):
    from tunesmith.config import parse_config

    raw = CASES[case][2]
    training = {"batch_size": 8, "max_steps": steps, "eval_every": max(1, steps // 2), "seed": 42,
                "learning_rate": 1e-3 if raw["method"]["name"] == "lora" else 5e-5, "num_threads": threads,
                "gradient_checkpointing": checkpointing, "release_memory": release}
    return parse_config({**raw, "training": training}, case)


# --- the measured child ------------------------------------------------------------------------------

def vm_hwm() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


class PhaseMeter:
    """Peak RSS per phase: the high-water mark is read and reset whenever a phase starts."""

    def __init__(self) -> None:
        self.current = "load"
        self.peaks: dict[str, int] = {}

    def enter(self, phase: str) -> None:
        self.peaks[self.current] = max(self.peaks.get(self.current, 0), vm_hwm())
        print(f"{self.current}: peak {self.peaks[self.current] / GB:.2f} GB", file=sys.stderr, flush=True)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
        self.current = phase

    def around(self, module, name: str, phase, after: str | None = None) -> None:
        """Run module.name inside `phase` (a name, or a function of the call count)."""
        original = getattr(module, name)
        calls = [0]

        def wrapped(*args, **kwargs):
            self.enter(phase(calls[0]) if callable(phase) else phase)
            calls[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                if after:
                    self.enter(after)

        setattr(module, name, wrapped)


def child(case: str, data_file: Path, steps: int, threads: int | None, checkpointing: str, release: str) -> dict:
    meter = PhaseMeter()
    from tunesmith.train import checkpoint, loop, run

    meter.around(loop, "train_step", lambda n: "first step" if n == 0 else "steady state")
    meter.around(loop, "evaluate", "validation")
    meter.around(checkpoint, "save_checkpoint", "save", after="steady state")
    meter.around(run, "run_loop", "first step", after="save")  # setup before the loop counts as load
    train, val = json.loads(data_file.read_text())
    config = build_config(case, steps, threads, checkpointing, release)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        result = run.run_training(config, train, val, Path(folder) / "run")
        info = json.loads((result.run_dir / "run.json").read_text())
        saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())["training"]
        meter.enter("end")
    return {"case": case, "phases": {k: v for k, v in meter.peaks.items() if k in PHASES},
            "peak": max(meter.peaks.values()), "steps": info["steps"],
            "resolved_checkpointing": saved["gradient_checkpointing"], "released": saved["release_memory"],
            "seconds": time.perf_counter() - started, "threads": threads or os.cpu_count(),
            "checkpointing": checkpointing}


# --- the parent ---------------------------------------------------------------------------------------

def predict(config, train: list) -> dict:
    from tunesmith.plan import calibrate, plan
    from tunesmith.plan.record import token_counts

    lengths, targets, labels = token_counts(config, train)
    result = plan(config, len(lengths), lengths, target_lengths=targets, labels=labels, calibration=calibrate(),
                  advise=False)
    return {"peak": result.estimate.peak_memory, "memory": result.estimate.memory,
            "widest": max(lengths), "targets": sum(sorted(targets)[-8:])}


def run_case(case: str, args) -> dict:
    config = build_config(case, args.steps, args.threads, args.checkpointing, args.release)
    train, val = globals()[CASES[case][3]](config, args.steps, args.val)
    prediction = predict(config, train)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([train, val], handle)
    try:
        cmd = [sys.executable, __file__, "--child", case, "--data", handle.name, "--steps", str(args.steps)]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        cmd += ["--checkpointing", args.checkpointing, "--release", args.release]
        # the child's stderr (its per-phase peaks as they happen) passes through, so a cut-off run says something
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **args.env})
    finally:
        os.unlink(handle.name)
    if done.returncode:
        raise SystemExit(f"{case} failed (exit {done.returncode}); its output is above")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured.update(prediction=prediction, target=CASES[case][1], what=CASES[case][0])
    measured["error"] = prediction["peak"] / measured["peak"] - 1
    measured["ok"] = measured["peak"] <= measured["target"] and abs(measured["error"]) <= PREDICTION_TOLERANCE
    print(json.dumps(measured), flush=True)
    return measured


def report(results: list[dict], args) -> str:
    lines = ["| case | load | first step | steady state | validation | save | peak | target | "
             "planner | error | ok |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        phases = " | ".join(f"{r['phases'].get(p, 0) / GB:.2f}" for p in PHASES)
        what = r["what"] + (f", gradient checkpointing {r['resolved_checkpointing']}, release_memory "
                            f"{r['released']}")
        lines.append(f"| {r['case']}: {what} | {phases} | {r['peak'] / GB:.2f} "
                     f"| ≤ {r['target'] / GB:.1f} | {r['prediction']['peak'] / GB:.2f} | {r['error']:+.1%} | "
                     f"{'yes' if r['ok'] else '**no**'} |")
    lines.append("")
    lines.append("Planner breakdown (GB): " + "; ".join(
        f"{r['case']}: " + ", ".join(f"{k} {v / GB:.3f}" for k, v in r["prediction"]["memory"].items())
        for r in results))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--only", nargs="*", choices=list(CASES))
    parser.add_argument("--threads", type=int, help="training.num_threads (default: all cores)")
    parser.add_argument("--val", type=int, default=32, help="validation examples (a batch of 8 shows its peak)")
    parser.add_argument("--checkpointing", choices=("auto", "true", "false"), default="auto",
                        help="training.gradient_checkpointing (auto: what training resolves it to)")
    parser.add_argument("--release", choices=("auto", "true", "false"), default="true",
                        help="training.release_memory (true: what auto resolves to on a laptop with < 8 GB free, "
                             "which the targets are for)")
    parser.add_argument("--env", nargs="*", default=[], help="extra environment for the children, KEY=VALUE")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.steps, args.threads, args.checkpointing, args.release)))
        return 0
    args.env = dict(item.split("=", 1) for item in args.env)
    results = [run_case(case, args) for case in (args.only or CASES)]
    table = report(results, args)
    print(table)
    if not args.no_write:
        RESULTS.with_suffix(".json").write_text(json.dumps(results, indent=2))
        print(f"(write the discussion around this table into {RESULTS})")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
