"""How well the planner predicts time *ratios*: between three tiny model sizes, between the bundled model and the
largest tiny one, and between DPO/KTO and SFT on the same examples (with their reference-model passes).

Timed in one process that calibrates first, then times each case in turn for a few rounds (each case's median
round counts), single-threaded CPU seconds. Ratios cancel steady load but not bursts, which is why this is a
benchmark and not a test: the tests check the planner's arithmetic and its memory, which load does not move.
Run: .venv/bin/python bench/planner_ratios.py [--tiny-only]  → bench/results/planner_ratios.md
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tunesmith.config.method import method_config
from tunesmith.objectives import get_objective
from tunesmith.plan.calibrate import Calibration
from tunesmith.plan.memory import StepShape
from tunesmith.plan.shapes import model_shape
from tunesmith.plan.speed import forward_seconds, step_seconds
from tunesmith.plan.workload import objective_work

RESULTS = Path(__file__).parent / "results" / "planner_ratios.md"
LORA = {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05}
SIZES = ({"hidden": 64, "layers": 2}, {"hidden": 128, "layers": 4}, {"hidden": 256, "layers": 6})
STEPS = ((4, 96), (8, 64), (4, 128))  # (batch, sequence length) per size; logits beyond the CPU cache
ROUNDS = 3
TIME_IN_ONE_PROCESS = f"""
import json, sys
from tunesmith.plan.calibrate import run_calibration
from tunesmith.plan.measure import measure_in_process
cases = json.loads(sys.argv[1])
calibration = run_calibration()
runs = [[measure_in_process(**case) for case in cases] for _ in range({ROUNDS})]
median = [sorted(rounds, key=lambda m: m["step_cpu_seconds"])[{ROUNDS} // 2] for rounds in zip(*runs)]
print(json.dumps({{"calibration": calibration.to_json(), "measured": median}}))
"""


def timed(cases: list[dict]) -> tuple[Calibration, list[dict]]:
    done = subprocess.run([sys.executable, "-c", TIME_IN_ONE_PROCESS, json.dumps(cases)], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Calibration.from_json(result["calibration"]), result["measured"]


def predicted_seconds(case: dict, measured: dict, calibration: Calibration) -> dict:
    shape, method = model_shape(case["model_dir"]), method_config(**LORA)
    step = StepShape(case["batch_size"], case["seq_len"], measured["targets"])
    objective = case.get("objective", "sft")
    work = objective_work(step, get_objective(objective))
    seconds = step_seconds(shape, method, work.trained, measured["trainable"], calibration.rates)
    if objective == "kto":  # its KL baseline forward each step
        seconds += forward_seconds(shape, method, step, calibration.rates)
    reference = forward_seconds(shape, method, work.reference, calibration.rates) if objective != "sft" else 0.0
    return {"step": seconds, "reference": reference}


def size_rows(folder: Path, bundled: bool) -> list[tuple[str, float, float]]:
    from tunesmith.models.tiny import save_tiny

    dirs = [str(save_tiny("causal-lm", folder / f"lm-{s['hidden']}", **s)) for s in SIZES]
    cases = [{"model_dir": d, "batch_size": b, "seq_len": n, "steps": 4, "threads": 1, "method": LORA}
             for d, (b, n) in zip(dirs, STEPS, strict=True)]
    labels = [f"tiny {s['hidden']}×{s['layers']}" for s in SIZES]
    if bundled:
        from tunesmith.models.catalog import resolve

        cases.append({"model_dir": str(resolve("smollm2-135m-instruct").path), "batch_size": 4, "seq_len": 128,
                      "steps": 3, "threads": 1, "method": LORA})
        labels.append("smollm2-135m")
    calibration, measured = timed(cases)
    pred = [predicted_seconds(c, m, calibration)["step"] for c, m in zip(cases, measured, strict=True)]
    meas = [m["step_cpu_seconds"] for m in measured]
    return [(f"{labels[i]} / {labels[i - 1]}", pred[i] / pred[i - 1], meas[i] / meas[i - 1])
            for i in range(1, len(cases))]


def objective_rows(folder: Path) -> list[tuple[str, float, float]]:
    from tunesmith.models.tiny import save_tiny

    model_dir = str(save_tiny("causal-lm", folder / "lm-objectives", **SIZES[-1]))
    cases = [{"model_dir": model_dir, "batch_size": 4, "seq_len": 128, "steps": 3, "threads": 1, "method": LORA,
              "objective": name} for name in ("sft", "dpo", "kto")]
    calibration, measured = timed(cases)
    pred = {c["objective"]: predicted_seconds(c, m, calibration) for c, m in zip(cases, measured, strict=True)}
    meas = {c["objective"]: {"step": m["step_cpu_seconds"], "reference": m["reference_cpu_seconds"]}
            for c, m in zip(cases, measured, strict=True)}
    rows = [(f"{name} step / sft step", pred[name]["step"] / pred["sft"]["step"],
             meas[name]["step"] / meas["sft"]["step"]) for name in ("dpo", "kto")]
    rows += [(f"{name} reference pass / sft step", pred[name]["reference"] / pred["sft"]["step"],
              meas[name]["reference"] / meas["sft"]["step"]) for name in ("dpo", "kto")]
    return rows


def markdown(rows: list[tuple[str, float, float]], started: str) -> str:
    lines = ["# Planner time ratios", "",
             f"Measured {started} on this machine (2 shared cores). Each ratio comes from one process that "
             f"calibrates, then times every case in turn for {ROUNDS} rounds (median round, CPU seconds, 1 thread). "
             "Acceptance: |error| ≤ 25%.", "",
             "| ratio | predicted | measured | error |", "|---|---|---|---|"]
    lines += [f"| {name} | {p:.2f} | {m:.2f} | {p / m - 1:+.0%} |" for name, p, m in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as folder:
        rows = size_rows(Path(folder), bundled="--tiny-only" not in sys.argv)
        rows += objective_rows(Path(folder))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(markdown(rows, started))
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
