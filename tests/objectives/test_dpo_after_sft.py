"""Acceptance (slow, the bundled model): SFT learns the quickstart's facts, then DPO on top of the SFT run (its
reference) learns the house sign-off from pairs; on held-out questions DPO raises preference accuracy beyond SFT
and does not lower fact accuracy beyond its interval."""

from __future__ import annotations

import random

import pytest

from tunesmith.config import apply_overrides, parse_config
from tunesmith.evaluate import compare
from tunesmith.feedback.reference import merged_start
from tunesmith.project import Project
from tunesmith.quickstart.preferences import split_by_question, support_demonstrations, support_pairs
from tunesmith.train import run_training

RECIPE = {
    "name": "larkspur-dpo", "model": {"name": "smollm2-135m-instruct", "max_length": 128},
    "method": {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
    "training": {"batch_size": 8, "max_steps": 10, "learning_rate": 1e-3, "warmup_ratio": 0.0, "eval_every": 1000,
                 "num_threads": 2, "restore_best": False},
    "evaluation": {"max_new_tokens": 40, "batch_size": 12, "baselines": False, "perplexity": False,
                   "bootstrap_samples": 1000},
    "serve": {"export": {"parity_prompts": 2, "parity_max_new_tokens": 8}},
}


def dpo_after_sft(root, threads: int = 2):
    """SFT on 80 demonstrations (10 steps), then DPO from its export on 32 pairs (8 steps); both compared on 24
    held-out questions. Returns the comparison."""
    rng = random.Random(0)
    train_pairs, test_pairs = split_by_question(support_pairs(), test_questions=8)
    seen = {r["meta"]["group"] for r in train_pairs}
    demonstrations = [r for r in support_demonstrations() if r["meta"]["group"] in seen]
    config = apply_overrides(parse_config(RECIPE), [f"training.num_threads={threads}"])
    project = Project.create(root, config)

    sft = run_training(config, rng.sample(demonstrations, 80), [], project.runs_dir / "sft")
    start = merged_start(sft.run_dir)  # the SFT run as a model folder: DPO's starting point and reference
    dpo_config = apply_overrides(config, [f"model.name={start}", "training.objective=dpo", "training.batch_size=4",
                                          "training.max_steps=8"])
    dpo = run_training(dpo_config, rng.sample(train_pairs, 32), [], project.runs_dir / "dpo")
    return compare(project, {"train": [], "test": test_pairs}, [sft.run_dir, dpo.run_dir], baselines=False)


@pytest.mark.slow
# Known gap (issue 18 stays open): on a clean-clone run, DPO after SFT reached preference accuracy 1.000 but fact
# accuracy fell from 0.062 to 0.000 (difference CI -0.146 to -0.021). Only a missed target is expected: a crash
# or any other error still fails; meeting the target shows as XPASS.
@pytest.mark.xfail(raises=AssertionError, strict=False,
                   reason="DPO after SFT lowers fact accuracy on the bundled model at the default settings")
@pytest.mark.timeout(3600)  # 18 steps and 48 generations on a 135M model: under load ~9 on 2 cores it passed 900 s
def test_dpo_after_sft_raises_preference_accuracy_and_keeps_the_facts(tmp_path):
    comparison = dpo_after_sft(tmp_path / "project")

    def test(metric):
        return next(t for t in comparison.tests if (t.metric, t.a, t.b) == (metric, "dpo", "sft"))

    preference, facts = test("preference_accuracy"), test("fact_accuracy")
    assert preference.significant and preference.difference.mean > 0, comparison.verdict
    assert not (facts.significant and facts.difference.mean < 0), comparison.verdict
    assert comparison.row("dpo").metrics["reward_margin"].mean > 0  # over the SFT run, its reference
    assert "it helped beyond sft, and fact_accuracy did not drop beyond its interval" in comparison.verdict
