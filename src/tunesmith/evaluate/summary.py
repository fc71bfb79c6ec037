"""From per-item scores to rows with intervals, paired tests and a verdict in plain words (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.preference import PREFERENCE_METRICS
from tunesmith.evaluate.stats import Estimate, PairedTest, is_binary, mean_interval, paired_test
from tunesmith.evaluate.tools import TOOL_METRICS

# Per-item values kept for diagnostics, not quality metrics: never tested or compared.
NOT_COMPARED = {"confidence"}
LOWER_IS_BETTER = {"reference_nll", "perplexity", "expected_calibration_error"}
PREFERRED_ORDER = ["recall@1", "mrr@10", "ndcg@10", "recall@5", "recall@10",
                   "tool_call_accuracy", "tool_name_accuracy", "tool_arguments_exact", "tool_called_when_should",
                   "tool_answered_when_should", "tool_schema_valid", "fact_accuracy", "accuracy", "f1_macro",
                   "token_f1", "rouge_l", "exact_match", "chrf_sentence",
                   "json_valid", "json_field_accuracy", "judge", "reference_nll"]
# The range of each per-item metric: an interval for n identical values is built from it. Metrics missing
# here (reference_nll, log-prob margins) are unbounded: identical values on every item get no interval.
UNIT_METRICS = {"accuracy", "exact_match", "token_f1", "rouge_l", "fact_accuracy", "json_valid",
                "json_field_accuracy", "judge", "preference_accuracy", *TOOL_METRICS,
                "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}  # retrieval (evaluate/retrieval.py)
RANGES = {"chrf_sentence": (0.0, 100.0)}


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
    chat = ["tool_call_accuracy", "fact_accuracy", "token_f1"]  # tool use, when items offer tools, is the point
    candidates = {"classification": ["accuracy"], "embedding": ["recall@1"]}.get(task, chat)
    for candidate in candidates:
        if candidate in available:
            return candidate
    return sorted(available)[0]


def metric_range(metric: str) -> tuple[float, float] | None:
    if metric in UNIT_METRICS or metric.startswith("check:"):
        return (0.0, 1.0)
    return RANGES.get(metric)


def binary_metrics(results: Sequence[ContenderResult]) -> set[str]:
    """0/1 metrics: a [0, 1] range and only 0 or 1 from every contender, so one interval method serves
    the whole column (fact_accuracy is 0/1 when each item has one fact, a share otherwise)."""
    names = {m for r in results for m in r.per_item if metric_range(m) == (0.0, 1.0)}
    return {m for m in names if all(is_binary(r.per_item[m]) for r in results if m in r.per_item)}


def build_rows(results: Sequence[ContenderResult], samples: int, seed: int) -> list[Row]:
    binary = binary_metrics(results)
    return [Row(r.name, r.kind, {m: mean_interval(v, samples, seed, binary=m in binary, bounds=metric_range(m))
                                 for m, v in r.per_item.items() if m not in NOT_COMPARED}, dict(r.corpus))
            for r in results]


def build_tests(results: Sequence[ContenderResult], samples: int, seed: int) -> list[PairedTest]:
    """Every run against every baseline, on every per-item metric both measured; and each run against the
    runs before it on the preference metrics (did preference tuning help beyond the SFT run?)."""
    runs = [r for r in results if r.kind == "run"]
    baselines = [r for r in results if r.kind != "run"]
    binary = binary_metrics(results)

    def test(metric: str, a: ContenderResult, b: ContenderResult) -> PairedTest:
        return paired_test(metric, a.name, a.per_item[metric], b.name, b.per_item[metric], samples, seed,
                           binary=metric in binary, bounds=metric_range(metric))

    tests = [test(metric, run, base) for run in runs for base in baselines
             for metric in metric_order(list(run.per_item)) if metric in base.per_item and metric not in NOT_COMPARED]
    tests += [test(metric, run, other) for i, run in enumerate(runs) for other in runs[:i]
              for metric in PREFERENCE_METRICS if metric in run.per_item and metric in other.per_item]
    # a run against the run it started from (DPO after SFT), on every metric: did the task metrics hold?
    done = {(t.metric, t.a, t.b) for t in tests}
    by_name = {r.name: r for r in runs}
    return tests + [test(metric, run, by_name[run.reference]) for run in runs if run.reference in by_name
                    for metric in metric_order(list(run.per_item))
                    if metric in by_name[run.reference].per_item and metric not in NOT_COMPARED
                    and (metric, run.name, run.reference) not in done]


def _by_method(entries: Sequence[tuple[str, str, str]]) -> str:
    """(metric, whose, method) → "method for metric, metric; method for metric (whose)". A metric is named
    alone when one method served it everywhere, with the contender(s) otherwise."""
    methods: dict[str, set[str]] = {}
    for metric, _, method in entries:
        methods.setdefault(metric, set()).add(method)
    groups: dict[str, list[str]] = {}
    for metric, whose, method in entries:
        label = metric if len(methods[metric]) == 1 else f"{metric} ({whose})"
        if label not in groups.setdefault(method, []):
            groups[method].append(label)
    return "; ".join(f"{method} for {', '.join(labels)}" for method, labels in groups.items())


def method_notes(rows: Sequence[Row], tests: Sequence[PairedTest], metrics: Sequence[str] | None = None,
                 tested: Sequence[str] | None = None) -> list[str]:
    """One footnote line per kind of number (intervals, differences, p-values) naming the method behind
    each, limited to the metrics a view shows (`metrics` for rows, `tested` for tests; None: all)."""
    cells = [(m, row.name, e.method) for row in rows for m, e in row.metrics.items()
             if e.method and (metrics is None or m in metrics)]
    shown = [t for t in tests if t.difference.method and (tested is None or t.metric in tested)]
    lines = [("95% intervals", _by_method(cells)),
             ("Differences", _by_method([(t.metric, f"{t.a} vs {t.b}", t.difference.method) for t in shown])),
             ("p-values", _by_method([(t.metric, f"{t.a} vs {t.b}", t.p_method) for t in shown]))]
    return [f"{title}: {text}." for title, text in lines if text]


def _better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def verdict(rows: Sequence[Row], tests: Sequence[PairedTest], primary: str, baselines_word: str = "prompting") -> str:
    """Did fine-tuning beat prompting (or, for embeddings, the base model and BM25), by how much, and is the
    difference more than noise?"""
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
    head = (f"Fine-tuning beat {baselines_word} on {primary}" if _better(primary, run_mean, base_mean)
            else f"Fine-tuning did not beat {baselines_word} on {primary}")
    text = (f"{head}: {best_run.name} scored {_fmt(run_mean)} vs {_fmt(base_mean)} for {best_base.name} "
            "(the best baseline)")
    if test is None or test.difference.n == 0:
        return text + "."
    d = test.difference
    interval = "no interval" if math.isnan(d.low) else f"95% CI {d.low:+.3f} to {d.high:+.3f}"
    text += f", a difference of {d.mean:+.3f} ({interval}, {test.p_text})"
    if math.isnan(d.low):
        return text + f". All {d.n} differences are equal on an unbounded metric, so it has no interval."
    if test.significant:
        return text + ". The interval excludes zero, so the difference is unlikely to be noise."
    return text + f". The interval includes zero: with {d.n} examples this difference is not significant."


def _test_text(test: PairedTest | None) -> str:
    if test is None or test.difference.n == 0:
        return "not compared"
    d = test.difference
    interval = "no interval" if math.isnan(d.low) else f"95% CI {d.low:+.3f} to {d.high:+.3f}"
    return f"{d.mean:+.3f}, {interval}, {test.p_text}, {'significant' if test.significant else 'n.s.'}"


def preference_verdict(rows: Sequence[Row], tests: Sequence[PairedTest], results: Sequence[ContenderResult],
                       primary: str) -> str:
    """For each run started from another run in the comparison (DPO after SFT): did preference tuning help beyond
    that run (held-out preference accuracy, reward margin), and did the primary task metric hold?"""
    runs = {r.name: r for r in results if r.kind == "run"}
    by_row = {row.name: row for row in rows}
    lines = []
    for run in runs.values():
        if run.reference not in runs or "preference_accuracy" not in run.per_item:
            continue
        start, row, start_row = run.reference, by_row[run.name], by_row[run.reference]

        def found(metric: str, run=run, start=start) -> PairedTest | None:
            return next((t for t in tests if (t.metric, t.a, t.b) == (metric, run.name, start)), None)

        def means(metric: str, row=row, start_row=start_row) -> str:
            return f"{_fmt(row.metrics[metric].mean)} vs {_fmt(start_row.metrics[metric].mean)}" \
                if metric in row.metrics and metric in start_row.metrics else "n/a"

        accuracy, task = found("preference_accuracy"), found(primary)
        text = (f"Preference tuning: {run.name} (started from {start}) has preference_accuracy "
                f"{means('preference_accuracy')} ({_test_text(accuracy)})")
        margin = row.metrics.get("reward_margin")
        if margin is not None and not math.isnan(margin.mean):
            interval = "" if math.isnan(margin.low) else f", 95% CI {margin.low:.3f} to {margin.high:.3f}"
            text += f", a mean reward margin over {start} of {margin.mean:.3f} nats per β{interval}"
        if primary != "preference_accuracy":
            text += f"; {primary} {means(primary)} ({_test_text(task)})"
        helped = accuracy is not None and accuracy.significant and accuracy.difference.mean > 0
        dropped = task is not None and task.significant and task.difference.mean < 0
        verdict_words = "it helped beyond " + start if helped else "no significant gain over " + start
        if primary != "preference_accuracy":
            verdict_words += f", and {primary} {'dropped' if dropped else 'did not drop beyond its interval'}"
        lines.append(f"{text}: {verdict_words}.")
    return " ".join(lines)
