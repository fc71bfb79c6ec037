"""Checkpointing and the allocator's bound are turned on by "auto" only when the run would not fit otherwise."""

from __future__ import annotations

import pytest
import yaml
from train_helpers import chat_records, tiny_config

from tunesmith.config import ProjectConfig
from tunesmith.config.auto import DataFacts
from tunesmith.plan.savers import HEADROOM, choose, resolve_savers, worst_step_peak

BOTH = (False, True)


def test_the_fastest_combination_that_fits_is_chosen():
    peaks = {(False, False): 9.0, (True, False): 5.0, (False, True): 6.5, (True, True): 2.5}
    peak_of = lambda ckpt, release: peaks[(ckpt, release)]  # noqa: E731
    assert choose(peak_of, 20 / HEADROOM, BOTH, BOTH) == (False, False)  # a workstation: no saver at all
    assert choose(peak_of, 6 / HEADROOM, BOTH, BOTH) == (True, False)  # recompute before faulting pages in
    assert choose(peak_of, 3 / HEADROOM, BOTH, BOTH) == (True, True)  # a laptop: both
    assert choose(peak_of, 1 / HEADROOM, BOTH, BOTH) == (True, True)  # nothing fits: the leanest
    assert choose(peak_of, 7 / HEADROOM, (False,), BOTH) == (False, True)  # checkpointing not a candidate


def lora_chat(tiny_lm_dir, **training) -> ProjectConfig:
    return ProjectConfig.model_validate({"model": {"name": str(tiny_lm_dir), "max_length": 64},
                                         "method": {"name": "lora"}, "training": {"batch_size": 8, **training}})


def test_resolution_follows_the_memory_available(tiny_lm_dir):
    facts = DataFacts("chat", 100)
    config = lora_chat(tiny_lm_dir)
    peak_of = worst_step_peak(config, facts, baseline=0.5e9)
    assert peak_of(True, True) < peak_of(True, False) < peak_of(False, False)
    plenty = resolve_savers(config, facts, available=64e9, baseline=0.5e9).training
    assert (plenty.gradient_checkpointing, plenty.release_memory) == (False, False)
    short = resolve_savers(config, facts, available=peak_of(True, True) / HEADROOM, baseline=0.5e9).training
    assert (short.gradient_checkpointing, short.release_memory) == (True, True)
    # what the user set is kept, and decides the rest
    fixed = resolve_savers(lora_chat(tiny_lm_dir, gradient_checkpointing=True), facts, available=64e9,
                           baseline=0.5e9).training
    assert (fixed.gradient_checkpointing, fixed.release_memory) == (True, False)


def test_full_fine_tuning_is_never_checkpointed_by_auto(tiny_lm_dir):
    config = lora_chat(tiny_lm_dir).model_copy(update={"method": lora_chat(tiny_lm_dir).method.model_copy(
        update={"name": "full"})})
    resolved = resolve_savers(config, DataFacts("chat", 100, trains_base=True), available=1e6, baseline=0.5e9)
    assert (resolved.training.gradient_checkpointing, resolved.training.release_memory) == (False, True)


@pytest.mark.parametrize("available, bounded", [(1e6, True), (1e12, False)])
def test_training_records_what_it_decided(tiny_lm_dir, tmp_path, monkeypatch, available, bounded):
    from tunesmith.train import run
    from tunesmith.train.run import run_training

    calls = []
    monkeypatch.setattr(run, "bound_retention", lambda: calls.append(1))  # (a real call would bind the suite)
    monkeypatch.setattr("psutil.virtual_memory", lambda: type("Memory", (), {"available": available})())
    config = tiny_config(tiny_lm_dir, epochs=1, eval_every=3)
    config = config.model_copy(update={"training": config.training.model_copy(
        update={"gradient_checkpointing": "auto", "release_memory": "auto"})})
    result = run_training(config, chat_records(12), chat_records(4, seed=3), tmp_path / "run")
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())["training"]
    assert saved["release_memory"] is bounded and len(calls) == int(bounded)
    assert saved["gradient_checkpointing"] is (bounded and config.method.name != "full")
