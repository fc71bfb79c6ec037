"""From per-item scores to rows with intervals, paired tests and a verdict in plain words (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.preference import PREFERENCE_METRICS
from tunesmith.evaluate.stats import Estimate, PairedTest, bootstrap_ci, paired_test

# Per-item values kept for diagnostics, not quality metrics: never tested or compared.
NOT_COMPARED = {"confidence"}
LOWER_IS_BETTER = {"reference_nll", "perplexity", "expected_calibration_error"}
PREFERRED_ORDER = ["fact_accuracy", "accuracy", "f1_macro", "token_f1", "rouge_l", "exact_match", "chrf_sentence",
                   "json_valid", "json_field_accuracy", "judge", "reference_nll"]


@dataclass
class Row:
    name: str
    kind: str
    metrics: dict[str, Estimate]  # per-item means with 95% CIs
    corpus: dict[str, float]  # corpus-level numbers (BLEU, chrF, perplexity, macro F1...)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
                "corpus": self.corpus}


def metric_order(names: Sequence[str]) -> list[str]:
    known = [m for m in PREFERRED_ORDER if m in names]
    return known + sorted(n for n in names if n not in known)


def choose_primary(results: Sequence[ContenderResult], requested: str | None, task: str) -> str:
    available = set().union(*(r.per_item for r in results)) if results else set()
    if requested:
        if requested not in available:
            from tunesmith.errors import ConfigError

            raise ConfigError(f"evaluation.primary_metric '{requested}' was not measured",
                              f"Use one of: {', '.join(sorted(available))}.")
        return requested
    for candidate in (["accuracy"] if task == "classification" else ["fact_accuracy", "token_f1"]):
        if candidate in available:
            return candidate
    return sorted(available)[0]


def build_rows(results: Sequence[ContenderResult], samples: int, seed: int) -> list[Row]:
    return [Row(r.name, r.kind, {m: bootstrap_ci(v, samples, seed) for m, v in r.per_item.items()
                                 if m not in NOT_COMPARED}, dict(r.corpus)) for r in results]


def build_tests(results: Sequence[ContenderResult], samples: int, seed: int) -> list[PairedTest]:
    """Every run against every baseline, on every per-item metric both measured; and each run against the
    runs before it on the preference metrics (did preference tuning help beyond the SFT run?)."""
    runs = [r for r in results if r.kind == "run"]
    baselines = [r for r in results if r.kind != "run"]
    tests = [paired_test(metric, run.name, run.per_item[metric], base.name, base.per_item[metric], samples, seed)
             for run in runs for base in baselines for metric in metric_order(list(run.per_item))
             if metric in base.per_item and metric not in NOT_COMPARED]
    return tests + [paired_test(metric, run.name, run.per_item[metric], other.name, other.per_item[metric], samples,
                                seed)
                    for i, run in enumerate(runs) for other in runs[:i] for metric in PREFERENCE_METRICS
                    if metric in run.per_item and metric in other.per_item]


def _better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def verdict(rows: Sequence[Row], tests: Sequence[PairedTest], primary: str) -> str:
    """Did fine-tuning beat prompting, by how much, and is the difference more than noise?"""
    runs = [r for r in rows if r.kind == "run" and primary in r.metrics]
    baselines = [r for r in rows if r.kind != "run" and primary in r.metrics]
    if not runs and not baselines:
        return f"Nothing was measured on {primary}."
    if not runs:
        best = max(baselines, key=lambda r: r.metrics[primary].mean)
        mean = _fmt(best.metrics[primary].mean)
        return f"Only baselines were evaluated; the best is {best.name} with {primary} {mean}."
    if not baselines:
        parts = [f"{r.name}: {primary} {_fmt(r.metrics[primary].mean)} (95% CI {_fmt(r.metrics[primary].low)}"
                 f"–{_fmt(r.metrics[primary].high)})" for r in runs]
        return "No baselines were evaluated, so there is nothing to beat. " + "; ".join(parts) + "."
    sign = -1 if primary in LOWER_IS_BETTER else 1
    best_run = max(runs, key=lambda r: sign * r.metrics[primary].mean)
    best_base = max(baselines, key=lambda r: sign * r.metrics[primary].mean)
    test = next((t for t in tests if t.metric == primary and t.a == best_run.name and t.b == best_base.name), None)
    run_mean, base_mean = best_run.metrics[primary].mean, best_base.metrics[primary].mean
    head = (f"Fine-tuning beat prompting on {primary}" if _better(primary, run_mean, base_mean)
            else f"Fine-tuning did not beat prompting on {primary}")
    text = (f"{head}: {best_run.name} scored {_fmt(run_mean)} vs {_fmt(base_mean)} for {best_base.name} "
            "(the best baseline)")
    if test is None or test.difference.n == 0:
        return text + "."
    d = test.difference
    text += f", a difference of {d.mean:+.3f} (95% CI {d.low:+.3f} to {d.high:+.3f}, p = {test.p_value:.3f})"
    if test.significant:
        return text + ". The interval excludes zero, so the difference is unlikely to be noise."
    return text + f". The interval includes zero: with {d.n} examples this difference is not significant."
