"""Pure pieces of the loop: data order, padding, schedule, optimizer-state files, checkpoint folders."""

import json

import pytest
import torch

from tunesmith.config.training import TrainingConfig
from tunesmith.train import checkpoint as ckpt
from tunesmith.train.batching import epoch_steps, padding_share
from tunesmith.train.encode import Example
from tunesmith.train.optim import build_optimizer, learning_rate


def _examples(lengths):
    return [Example(list(range(n)), list(range(n)), n - 1) for n in lengths]


def test_order_is_seeded_and_length_grouping_cuts_padding():
    examples = _examples([5 + (i * 37) % 120 for i in range(256)])
    first = epoch_steps(examples, 8, 1, seed=1, epoch=0)
    assert [s.micro_batches for s in first] == [s.micro_batches for s in epoch_steps(examples, 8, 1, 1, 0)]
    assert [s.micro_batches for s in first] != [s.micro_batches for s in epoch_steps(examples, 8, 1, 1, 1)]
    ungrouped = epoch_steps(examples, 8, 1, seed=1, epoch=0, group_by_length=False)
    assert padding_share(examples, first) < 0.05 < padding_share(examples, ungrouped)
    assert sorted(i for s in first for m in s.micro_batches for i in m) == list(range(256))


def test_processes_split_the_same_global_batches():
    examples = _examples([3 + i % 17 for i in range(50)])
    one = epoch_steps(examples, 4, 2, seed=3, epoch=0)
    ranks = [epoch_steps(examples, 4, 1, seed=3, epoch=0, rank=r, world=2) for r in (0, 1)]
    for step, a, b in zip(one, *ranks, strict=True):
        assert step.micro_batches == a.micro_batches + b.micro_batches
        assert step.global_targets == a.global_targets == b.global_targets


def test_schedule_warms_up_then_decays():
    config = TrainingConfig(learning_rate=1.0, warmup_ratio=0.1, scheduler="cosine")
    lrs = [learning_rate(s, 100, config) for s in range(100)]
    assert lrs[0] < lrs[9] <= 1.0 and lrs[10] == pytest.approx(1.0) and lrs[-1] < 0.01
    linear = TrainingConfig(learning_rate=1.0, warmup_ratio=0.0, scheduler="linear")
    assert learning_rate(50, 100, linear) == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["adamw", "adafactor"])
def test_optimizer_state_round_trips_without_pickle(name, tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    optimizer = build_optimizer(model, TrainingConfig(optimizer=name, weight_decay=0.1, learning_rate=1e-3))
    for _ in range(2):
        model(torch.randn(5, 4)).sum().backward()
        optimizer.step()
    folder = ckpt.save_checkpoint(tmp_path / "step-2", dict(model.named_parameters()), optimizer, {"step": 2})
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [ckpt.MARKER, ckpt.WEIGHTS, ckpt.OPTIMIZER, ckpt.STATE, "optimizer.json", "rng.safetensors"])
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    restored = build_optimizer(fresh, TrainingConfig(optimizer=name, weight_decay=0.1, learning_rate=1e-3))
    assert ckpt.load_checkpoint(folder, fresh, restored) == {"step": 2}
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)
    saved, loaded = optimizer.state_dict(), restored.state_dict()
    assert json.dumps(saved["param_groups"]) == json.dumps(loaded["param_groups"])
    for index, slots in saved["state"].items():
        for key, value in slots.items():
            other = loaded["state"][index][key]
            assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other


def test_incomplete_checkpoints_are_ignored_and_pruning_keeps_the_best(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, TrainingConfig(learning_rate=1e-3))
    for step in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path / f"step-{step}", dict(model.named_parameters()), optimizer, {"step": step})
    (tmp_path / "step-5").mkdir()  # a crash before the marker: never resumed from
    (tmp_path / ".step-6-tmp").mkdir()  # a crash mid-write
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == ["step-1", "step-2", "step-3", "step-4"]
    ckpt.prune(tmp_path, keep=2, protect={"step-1"})
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == ["step-1", "step-3", "step-4"]
    assert not (tmp_path / ".step-6-tmp").exists()
    with pytest.raises(Exception, match="incomplete"):
        ckpt.load_checkpoint(tmp_path / "step-5", model, None)


def test_an_unresolved_auto_learning_rate_is_refused_in_one_line():
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.learning_rate is still \"auto\""):
        build_optimizer(torch.nn.Linear(2, 2), TrainingConfig())
