"""Acceptance (slow, the bundled model): SFT learns the quickstart's facts, then DPO on top of the SFT run (its
reference) learns the house sign-off from pairs; on held-out questions DPO raises preference accuracy beyond SFT
and does not lower fact accuracy beyond its interval.

The held-out questions are new wordings of topics whose facts SFT trains on (split_by_question holds out
questions, meta.group = topic-number, never whole topics: every topic keeps 6-9 trained questions), so the facts
are knowable and the split is leak-free by wording. What failed before was SFT itself: 10 steps (80 examples over
16 topics) left fact accuracy at 0.062, facts barely learned, which DPO then erased. Measured on the same data and
seeds (SFT lr 1e-3, batch 8; DPO 8 steps of 4 pairs, beta 0.1; 24 held-out items; one thread, machine loaded):

| SFT steps | DPO lr | dpo.sft_weight | pref. acc. SFT → DPO | fact acc. SFT → DPO (diff, 95% CI) |
|---|---|---|---|---|
| 10 | 1e-3 | 0 | ? → 1.000 | 0.062 → 0.000 (-0.062, -0.146 to -0.021: dropped; a clean-clone run) |
| 40 | 1e-3 | 0 | 0.000 → 1.000 | 0.396 → 0.396 (+0.000, -0.146 to +0.208) <- this test |
| 40 | 1e-3 | 1 | 0.000 → 1.000 | 0.396 → 0.250 (-0.146, -0.333 to +0.042) |
| 40 | 1e-4 | 0 | 0.000 → 0.250 (p = 0.031) | 0.396 → 0.312 (-0.083, -0.250 to +0.000) |
| 40 | 1e-4 | 1 | 0.000 → 0.167 (n.s.) | 0.396 → 0.312 (-0.083, -0.250 to +0.000) |

So more SFT is the fix; the DPO recipe and the defaults stay: an RPO term (sft_weight 1) did not keep more facts
(lower, within noise), and at a tenth of the rate (improve's preference_learning_rate_multiplier) 8 steps barely
move the preference. With 24 items fact-accuracy differences under ~0.15 are noise.
"""

from __future__ import annotations

import random

import pytest

from tunesmith.config import apply_overrides, parse_config
from tunesmith.evaluate import compare
from tunesmith.feedback.reference import merged_start
from tunesmith.project import Project
from tunesmith.quickstart.preferences import split_by_question, support_demonstrations, support_pairs
from tunesmith.train import run_training

SFT_STEPS = 40  # about one pass over the training questions' demonstrations: enough to learn most facts

RECIPE = {
    "name": "larkspur-dpo", "model": {"name": "smollm2-135m-instruct", "max_length": 128},
    "method": {"name": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
    "training": {"batch_size": 8, "max_steps": SFT_STEPS, "learning_rate": 1e-3, "warmup_ratio": 0.0,
                 "eval_every": 1000, "num_threads": 2, "restore_best": False,
                 "gradient_checkpointing": False},  # memory is not the point here; recomputing costs ~30 % time
    "evaluation": {"max_new_tokens": 40, "batch_size": 12, "baselines": False, "perplexity": False,
                   "bootstrap_samples": 1000},
    "serve": {"export": {"parity_prompts": 2, "parity_max_new_tokens": 8}},
}


def dpo_after_sft(root, threads: int = 2):
    """SFT on 320 demonstrations (40 steps), then DPO from its export on 32 pairs (8 steps); both compared on 24
    held-out questions. Returns the comparison."""
    rng = random.Random(0)
    train_pairs, test_pairs = split_by_question(support_pairs(), test_questions=8)
    seen = {r["meta"]["group"] for r in train_pairs}
    demonstrations = [r for r in support_demonstrations() if r["meta"]["group"] in seen]
    config = apply_overrides(parse_config(RECIPE), [f"training.num_threads={threads}"])
    project = Project.create(root, config)

    sft = run_training(config, rng.sample(demonstrations, SFT_STEPS * 8), [], project.runs_dir / "sft")
    start = merged_start(sft.run_dir)  # the SFT run as a model folder: DPO's starting point and reference
    dpo_config = apply_overrides(config, [f"model.name={start}", "training.objective=dpo", "training.batch_size=4",
                                          "training.max_steps=8"])
    dpo = run_training(dpo_config, rng.sample(train_pairs, 32), [], project.runs_dir / "dpo")
    return compare(project, {"train": [], "test": test_pairs}, [sft.run_dir, dpo.run_dir], baselines=False)


@pytest.mark.slow
@pytest.mark.acceptance
@pytest.mark.timeout(3600)  # 48 steps, 48 generations (135M): ~3 min quiet (estimated), 30-50 min under load 6-9
def test_dpo_after_sft_raises_preference_accuracy_and_keeps_the_facts(tmp_path):
    comparison = dpo_after_sft(tmp_path / "project")

    def test(metric):
        return next(t for t in comparison.tests if (t.metric, t.a, t.b) == (metric, "dpo", "sft"))

    preference, facts = test("preference_accuracy"), test("fact_accuracy")
    assert preference.significant and preference.difference.mean > 0, comparison.verdict
    assert not (facts.significant and facts.difference.mean < 0), comparison.verdict
    assert comparison.row("dpo").metrics["reward_margin"].mean > 0  # over the SFT run, its reference
    assert "it helped beyond sft, and fact_accuracy did not drop beyond its interval" in comparison.verdict
