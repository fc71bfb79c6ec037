"""Human-readable text for a Plan (pure: data in, strings out), shared by the CLI and the studio."""

from __future__ import annotations

from tunesmith.plan.planner import Estimate, Plan


def gigabytes(value: float) -> str:
    return f"{value / 1e9:.2f} GB"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def setting_text(estimate: Estimate) -> str:
    s = estimate.setting
    extra = ", activation checkpointing" if s.gradient_checkpointing else ""
    return (f"{s.method}, batch {s.batch_size} × accumulation {s.gradient_accumulation}, "
            f"max_length {s.max_length}{extra}")


def summary_rows(result: Plan) -> list[tuple[str, str]]:
    e = result.estimate
    where = "this machine" if result.target == "this-machine" else f"{result.devices} × {result.target}"
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    rows = [("target", f"{where} ({threads})" if result.target == "this-machine" else where),
            ("model", f"{result.model} ({result.total_params / 1e6:.1f} M parameters, "
                      f"{e.trainable_params:,} trained)"),
            ("setting", setting_text(e)),
            *([("training", result.training)] if result.training else []),
            ("peak memory", f"{gigabytes(e.peak_memory)} of {gigabytes(result.available_memory)}"
                            + ("" if result.fits else "  [bold red]does not fit[/bold red]")),
            ("memory breakdown", ", ".join(f"{k.replace('_', ' ')} {gigabytes(v)}" for k, v in e.memory.items()
                                           if k != "peak" and v)),
            ("time per step", duration(e.seconds_per_step)),
            ("time per epoch", f"{duration(e.seconds_per_epoch)} ({e.steps_per_epoch} steps)"),
            ("total", f"{duration(result.total_seconds)} ({result.total_steps} steps)")]
    if e.reference_seconds:
        rows.insert(-1, ("reference pass", f"{duration(e.reference_seconds)} once, before the first step "
                                           "(the reference model's log-probs)"))
    if result.cost is not None:
        rows.append(("cost", f"{result.cost:.2f} at {result.price_per_hour:g}/hour"))
    return rows
