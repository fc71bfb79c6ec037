"""Evaluating preference runs (no models): a DPO run's reference is the run it started from, its reward margin is
measured against that run, it is tested against it on every metric, and the verdict says whether preference
tuning helped beyond SFT and whether the task metric held."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.config import EvaluationConfig
from tunesmith.evaluate.compare import summarize
from tunesmith.evaluate.contenders import ContenderResult
from tunesmith.evaluate.preference import BASE, add_reward_margins, link_references, started_from

N = 24


def result(name: str, kind: str, accuracy: list[float], margin: list[float], facts: list[float],
           run_dir: Path | None = None) -> ContenderResult:
    return ContenderResult(name, kind, [""] * N, {"fact_accuracy": facts, "preference_accuracy": accuracy,
                                                    "logprob_margin": margin}, run_dir=run_dir)


def contenders(tmp_path, dpo_facts: list[float]) -> list[ContenderResult]:
    facts = [float(i % 3 != 0) for i in range(N)]
    return [result(BASE, "baseline", [0.0] * N, [-2.0 - i % 2 for i in range(N)], [0.0] * N),
            result("sft", "run", [float(i % 4 == 0) for i in range(N)], [-1.0 - i % 3 for i in range(N)], facts,
                   tmp_path / "runs" / "sft"),
            result("dpo", "run", [1.0] * N, [2.0 + i % 2 for i in range(N)], dpo_facts, tmp_path / "runs" / "dpo")]


def test_a_dpo_run_is_judged_against_the_run_it_started_from(tmp_path):
    results = contenders(tmp_path, [float(i % 3 != 0) for i in range(N)])
    link_references(results, {"sft": None, "dpo": (tmp_path / "runs" / "sft").resolve()})
    assert [r.reference for r in results] == [None, BASE, "sft"]
    add_reward_margins(results)
    sft, dpo = results[1].per_item, results[2].per_item
    assert dpo["reward_margin"] == [d - s for d, s in zip(dpo["logprob_margin"], sft["logprob_margin"], strict=True)]
    assert sft["reward_margin"][:2] == [1.0, 1.0]  # sft's reference is the base model

    comparison = summarize(results, list(range(N)), "chat", EvaluationConfig(bootstrap_samples=300))
    tested = {(t.metric, t.a, t.b) for t in comparison.tests}
    assert {("fact_accuracy", "dpo", "sft"), ("preference_accuracy", "dpo", "sft")} <= tested
    assert comparison.row("dpo").metrics["reward_margin"].low > 0  # with its interval
    said = comparison.verdict
    assert "Preference tuning: dpo (started from sft) has preference_accuracy 1.000 vs 0.250" in said
    assert "mean reward margin over sft of 4.500 nats per β, 95% CI" in said
    assert "it helped beyond sft, and fact_accuracy did not drop beyond its interval." in said


def test_the_verdict_says_when_the_task_metric_dropped(tmp_path):
    results = contenders(tmp_path, [0.0] * N)
    link_references(results, {"sft": None, "dpo": (tmp_path / "runs" / "sft").resolve()})
    said = summarize(results, list(range(N)), "chat", EvaluationConfig(bootstrap_samples=300)).verdict
    assert "it helped beyond sft, and fact_accuracy dropped." in said


def test_a_run_started_from_a_run_outside_the_comparison_has_no_reward_margin(tmp_path):
    results = contenders(tmp_path, [1.0] * N)[::2]  # base and dpo only
    link_references(results, {"dpo": tmp_path / "elsewhere"})
    add_reward_margins(results)
    assert results[1].reference is None and "reward_margin" not in results[1].per_item


def test_started_from_reads_the_export_the_run_was_trained_on(tmp_path):
    sft, export, dpo = tmp_path / "runs" / "sft", tmp_path / "exports" / "sft-hf", tmp_path / "runs" / "dpo"
    for folder in (sft, export, dpo):
        folder.mkdir(parents=True)
    (export / "export.json").write_text(json.dumps({"run_dir": str(sft), "format": "hf"}))
    (dpo / "run.json").write_text(json.dumps({"status": "completed", "base_model_path": str(export)}))
    (sft / "run.json").write_text(json.dumps({"status": "completed", "base_model_path": str(tmp_path / "base")}))
    assert started_from(dpo) == sft.resolve()
    assert started_from(sft) is None
