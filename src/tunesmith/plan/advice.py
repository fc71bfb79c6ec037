"""Settings that fit, fastest first, and what a larger model would need (searches the planner's model)."""

from __future__ import annotations

import copy
from dataclasses import replace

from tunesmith.plan.planner import Estimate, Planner, Setting
from tunesmith.plan.targets import GPUS, REFERENCE_MODELS

BATCH_SIZES = (1, 2, 4, 8, 16, 32)


def _length_options(planner: Planner, current: int) -> list[int]:
    ordered = sorted(planner.lengths)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    snug = max(16, -(-p95 // 64) * 64)  # covers 95% of examples, rounded up to 64 tokens
    return sorted({current, snug}) if snug < min(current, ordered[-1]) else [current]


def candidate_settings(planner: Planner, method: str) -> list[Setting]:
    current = planner.current()
    effective = current.batch_size * current.gradient_accumulation
    settings = []
    for batch in BATCH_SIZES:
        if batch > effective:
            break
        for length in _length_options(planner, current.max_length):
            for checkpointing in (False, True):
                settings.append(Setting(method, batch, max(1, effective // batch), length, checkpointing))
    return settings


def recommend(planner: Planner, available: float, keep: int = 3) -> list[Estimate]:
    """The fastest settings that fit in memory, keeping the effective batch size and the chosen method;
    leaner methods (LoRA, then IA3) only when nothing fits with it."""
    current = planner.current().method
    for method in dict.fromkeys([current, "lora", "ia3"]):
        fitting = [e for e in map(planner.estimate, candidate_settings(planner, method)) if e.fits(available)]
        # Checkpointing only costs time; suggest it only where the same setting without it does not fit.
        plain = {e.setting for e in fitting if not e.setting.gradient_checkpointing}
        fitting = [e for e in fitting if not e.setting.gradient_checkpointing
                   or replace(e.setting, gradient_checkpointing=False) not in plain]
        if fitting:
            fitting.sort(key=lambda e: (e.seconds_per_epoch, e.peak_memory))
            return fitting[:keep]
    return []


def _smallest_footprint(planner: Planner) -> Estimate:
    length = planner.current().max_length
    return planner.estimate(Setting("lora", 1, planner.current().batch_size, length, True))


def larger_models(planner: Planner, available: float) -> list[dict]:
    """For each published model bigger than ours: the least memory it needs here and where it fits."""
    advice = []
    for name, shape in REFERENCE_MODELS.items():
        if shape.total_params <= planner.shape.total_params:
            continue
        other = copy.copy(planner)
        other.shape = shape
        lean = _smallest_footprint(other)
        gpus = [g for g, (memory, _, _) in sorted(GPUS.items(), key=lambda kv: kv[1][0])
                if lean.peak_memory * 0.6 <= memory * 0.85]  # bf16 on GPUs roughly halves weights/activations
        advice.append({
            "model": name, "parameters": shape.total_params, "min_peak_memory": lean.peak_memory,
            "fits_here": lean.fits(available), "setting": lean.setting.__dict__,
            "seconds_per_epoch": lean.seconds_per_epoch,
            "advice": (f"fits here with LoRA, batch 1 and activation checkpointing (peak "
                       f"{lean.peak_memory / 1e9:.1f} GB)" if lean.fits(available) else
                       f"needs {lean.peak_memory / 0.85 / 1e9:.1f} GB of memory (this machine has "
                       f"{available / 1e9:.1f} GB)" + (f"; or a GPU such as {gpus[0]}" if gpus else "")),
        })
    return advice
