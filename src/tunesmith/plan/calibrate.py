"""Measure this machine (~20 s) and cache the result: matmul throughput, the cost of memory-bound
work, operator dispatch, and real training steps of a tiny model that set the time correction and the
fixed memory of a training process: one by LoRA and one by full fine-tuning, since a method built on PEFT
imports it (~0.1 GB of resident memory that a full or bottleneck-adapter run never holds). Runs in a fresh
process so its peak RSS is its own.

A cached calibration is measured again when the machine or the libraries change, when it is older than
`MAX_AGE_DAYS` (it may have been taken while the machine was busy), or when the first steps of a real run
took `DISAGREEMENT` times more (or less) CPU time than it predicted (`record_check`, from plan/watch.py).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tunesmith.config.method import MethodOptions, method_config
from tunesmith.plan.memory import StepShape, peak_memory
from tunesmith.plan.shapes import ModelShape, model_shape
from tunesmith.plan.speed import Rates, step_seconds
from tunesmith.progress import status

CALIBRATION_FILE = "calibration.json"
CALIBRATION_VERSION = 6  # bump when what is measured changes, so stale caches are measured again
PROBE_MODEL = {"hidden": 96, "layers": 3}
PROBE_STEP = {"batch_size": 8, "seq_len": 64, "target_share": 1.0, "steps": 4}  # logits beyond the cache
PROBE_OVERHEAD_STEP = {"batch_size": 1, "seq_len": 8, "target_share": 0.5, "steps": 6}  # almost no compute
PROBE_METHOD = {"name": "lora", "r": 8, "alpha": 16}
PROBE_PLAIN_METHOD = {"name": "full"}  # imports no PEFT
MAX_AGE_DAYS = 30
DISAGREEMENT = 1.5  # a run's steps this many times slower or faster than predicted: measure again
KEPT_CHECKS = 5


@dataclass(frozen=True)
class Calibration:
    rates: Rates
    process_baseline: float  # bytes a training process holds besides model, states and activations
    machine: dict
    measured_at: float = 0.0  # Unix time
    checks: tuple[dict, ...] = ()  # the newest runs' first steps: {"at", "predicted", "measured"} CPU seconds
    peft_baseline: float = 0.0  # bytes more that a process holds once it has imported PEFT

    def baseline(self, method: str) -> float:
        """The fixed memory of a process training by `method` (a registered method's name)."""
        return method_baseline(method, self.process_baseline, self.peft_baseline)

    def to_json(self) -> dict:
        return {"rates": asdict(self.rates), "process_baseline": self.process_baseline,
                "peft_baseline": self.peft_baseline, "machine": self.machine, "measured_at": self.measured_at,
                "checks": list(self.checks)}

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        return cls(Rates(**data["rates"]), float(data["process_baseline"]), data["machine"],
                   float(data.get("measured_at", 0.0)), tuple(data.get("checks", ())),
                   float(data.get("peft_baseline", 0.0)))


def method_baseline(method: str, process: float, peft: float) -> float:
    """A process's fixed memory, plus PEFT's when `method` is built on it."""
    from tunesmith.methods import get_method

    return process + (peft if get_method(method).peft else 0.0)


def disagreement(check: dict) -> float:
    """How many times off the prediction was (>= 1, either direction)."""
    ratio = check["measured"] / check["predicted"]
    return max(ratio, 1 / ratio)


def stale_reason(cached: Calibration, machine: dict, now: float) -> str | None:
    """Why a cached calibration must be measured again, or None when it still holds (pure)."""
    if cached.machine != machine:
        return "this machine, its Python or its libraries changed"
    age_days = (now - cached.measured_at) / 86400
    if age_days > MAX_AGE_DAYS:
        return f"it is {age_days:.0f} days old"
    if cached.checks and disagreement(cached.checks[-1]) > DISAGREEMENT:
        last = cached.checks[-1]
        return (f"a run's first steps took {last['measured']:.3g} CPU s where it predicted {last['predicted']:.3g}")
    return None


def machine_key() -> dict:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"planner": CALIBRATION_VERSION, "cpu": cpu, "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version()}


def _per_call(fn, repeats: int) -> float:
    fn()  # warm up
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        fn()
        timings.append(time.process_time() - started)
    return min(timings)  # the least disturbed run: other processes only ever add time


def measure_rates() -> Rates:
    """Single-thread micro-benchmarks, in CPU time so other load on the machine does not leak in."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    flops = seconds = 0.0
    for m, k, n in ((256, 256, 1024), (512, 576, 1536), (256, 1024, 256)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        seconds += _per_call(lambda a=a, b=b: a @ b, 7)
        flops += 2.0 * m * k * n
    matmul = flops / seconds
    # The vocabulary head is skinny (few rows, a huge vocabulary), far from peak matmul speed: time it at
    # two hidden widths and charge per logit (softmax, writing logits) and per logit × hidden unit.
    rows, vocab = 512, 49152  # 100 MB of logits: far larger than the CPU cache, as in real training
    labels = torch.randint(0, vocab, (rows,))
    head_times = {}
    for width in (32, 256):
        hidden = torch.randn(rows, width, requires_grad=True)
        head = torch.randn(vocab, width)

        def cross_entropy(hidden=hidden, head=head):
            F.cross_entropy(F.linear(hidden, head), labels, reduction="sum").backward()

        head_times[width] = _per_call(cross_entropy, 5) / (rows * vocab)
    per_unit = max(0.0, (head_times[256] - head_times[32]) / (256 - 32))

    x = torch.randn(1 << 20, requires_grad=True)

    def elementwise():
        (F.silu(x) * x).sum().backward()

    weights = torch.zeros(1 << 23, requires_grad=True)  # 4 × 32 MB of state: beyond the cache, like real models
    weights.grad = torch.randn_like(weights)
    adamw = torch.optim.AdamW([weights], lr=1e-4, fused=True)

    def optimizer_step():
        torch.nn.utils.clip_grad_norm_([weights], 1.0)
        adamw.step()

    return Rates(matmul_flops=matmul, logit_seconds=max(0.0, head_times[32] - 32 * per_unit), head_seconds=per_unit,
                 optimizer_seconds=_per_call(optimizer_step, 5) / weights.numel(),
                 elementwise_seconds=_per_call(elementwise, 7) / (2 * x.numel()))


def _probe(model_dir: Path, options: dict, method: dict = PROBE_METHOD, fresh: bool = False
           ) -> tuple[ModelShape, MethodOptions, StepShape, dict]:
    """A real training step of the tiny model, in this process or (`fresh`) a new one."""
    from tunesmith.plan.measure import measure_in_process, measure_step

    measured = (measure_step if fresh else measure_in_process)(str(model_dir), method=method, threads=1, **options)
    step = StepShape(options["batch_size"], options["seq_len"], measured["targets"])
    return model_shape(str(model_dir)), method_config(**method), step, measured


def _residual(probe: tuple[ModelShape, MethodOptions, StepShape, dict]) -> float:
    """What the process held at its peak besides what the memory model accounts for."""
    shape, method, step, measured = probe
    model_part = peak_memory(shape, method, step, measured["trainable"], measured["total"], baseline=0.0).peak
    return max(0.0, measured["peak_rss"] - model_part)


def run_calibration() -> Calibration:
    """Measure rates, then real training steps of a tiny model (call in a fresh process): a nearly empty
    step gives the fixed cost per block, a real one the correction of the whole time model; the same step by
    LoRA and by full fine-tuning gives the fixed memory of a process with and without PEFT."""
    from tunesmith.models.tiny import save_tiny

    rates = measure_rates()
    with tempfile.TemporaryDirectory(prefix="tunesmith-calibrate-") as folder:
        model_dir = save_tiny("causal-lm", Path(folder), **PROBE_MODEL)
        shape, method, step, small = _probe(model_dir, PROBE_OVERHEAD_STEP)
        compute = step_seconds(shape, method, step, small["trainable"], rates)
        rates = replace(rates, block_seconds=max(0.0, small["step_cpu_seconds"] - compute) / shape.layers)
        probe = shape, method, step, measured = _probe(model_dir, PROBE_STEP)
        plain = _residual(_probe(model_dir, PROBE_STEP, PROBE_PLAIN_METHOD, fresh=True))  # (no PEFT)
    predicted = step_seconds(shape, method, step, measured["trainable"], rates)
    rates = replace(rates, correction=measured["step_cpu_seconds"] / predicted)
    return Calibration(rates, plain, machine_key(), time.time(), peft_baseline=max(0.0, _residual(probe) - plain))


def calibration_path() -> Path:
    from tunesmith.models.convert import cache_root

    return cache_root().parent / CALIBRATION_FILE


def cached_calibration(path: Path | None = None) -> Calibration | None:
    """The calibration on disk as it is (None when missing or unreadable); never measures."""
    path = Path(path) if path else calibration_path()
    try:
        return Calibration.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def calibrate(force: bool = False, path: Path | None = None, now: float | None = None) -> Calibration:
    """The cached calibration of this machine, measuring it (in a fresh process) when missing or stale."""
    path = Path(path) if path else calibration_path()
    cached = cached_calibration(path)
    if force:
        reason = "asked to"
    elif cached is None:
        reason = "none is cached"
    else:
        reason = stale_reason(cached, machine_key(), time.time() if now is None else now)
        if reason is None:
            return cached
    result = measure(reason)
    _write(path, result)
    return result


def record_check(predicted: float, measured: float, path: Path | None = None,
                 now: float | None = None) -> Calibration | None:
    """Keep a run's first steps (CPU seconds, predicted and measured) beside the calibration that predicted
    them; one that disagrees by more than `DISAGREEMENT` makes the next `calibrate()` measure again."""
    path = Path(path) if path else calibration_path()
    cached = cached_calibration(path)
    if cached is None or predicted <= 0 or measured <= 0:
        return None
    check = {"at": time.time() if now is None else now, "predicted": predicted, "measured": measured}
    updated = replace(cached, checks=(*cached.checks, check)[-KEPT_CHECKS:])
    _write(path, updated)
    return updated


def _write(path: Path, calibration: Calibration) -> None:
    """Atomically: a planner in another process reads either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(calibration.to_json(), indent=2))
    os.replace(staging, path)


def measure(reason: str | None = None) -> Calibration:
    """A new calibration, measured in a fresh Python process."""
    why = f" ({reason})" if reason else ""
    with status(f"Calibrating this machine for the planner{why}, ~20 s"):
        done = subprocess.run([sys.executable, "-m", "tunesmith.plan.calibrate"], capture_output=True, text=True,
                              check=False)
    if done.returncode != 0:
        raise RuntimeError(f"calibration failed: {done.stderr[-3000:]}")
    return Calibration.from_json(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    print(json.dumps(run_calibration().to_json()))
