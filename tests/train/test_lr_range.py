"""The learning-rate range test (train/lr_range.py) and the stratified validation subset (train/subset.py)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tunesmith.config import parse_config
from tunesmith.config.auto import RangeTest
from tunesmith.train.lr_range import find_learning_rate, pick_learning_rate, sweep
from tunesmith.train.subset import stratified_subset


def test_the_pick_is_a_tenth_of_the_rate_at_the_lowest_smoothed_loss():
    rates = sweep(1e-6, 1e-2, 40)
    falling = [5.0 - 0.1 * i for i in range(30)]
    losses = falling + [2.0 + 3.0 * i for i in range(10)]  # blows up after step 30
    chosen = pick_learning_rate(rates, losses)
    assert rates[26] / 10 <= chosen <= rates[31] / 10  # the smoothing lags a step or two
    assert pick_learning_rate(rates, losses, backoff=1.0) == pytest.approx(chosen * 10)


def test_a_fitted_head_takes_the_rate_at_the_lowest_loss_itself():
    from tunesmith.config.auto import range_test

    assert range_test(True).backoff == 10.0 and range_test(False).backoff == 10.0
    warm = range_test(True, warm_head=True)
    assert warm.backoff == 1.0 and (warm.low, warm.high) == (range_test(True).low, range_test(True).high)
    assert range_test(True).ceiling is None and warm.ceiling == 2e-4 and range_test(False, True).ceiling == 2e-3


def test_no_pick_when_the_loss_never_falls():
    rates = sweep(1e-6, 1e-2, 20)
    assert pick_learning_rate(rates, [1.0 + 0.1 * i for i in range(20)]) is None
    assert pick_learning_rate(rates, [float("nan")]) is None


class Steps:
    """Fixed regression batches, as `Batches.epoch` hands them out."""

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=generator)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def epoch(self, epoch):
        return [slice(i, i + 8) for i in range(0, 64, 8)]


def test_the_range_test_finds_a_rate_and_puts_the_weights_back():
    torch.manual_seed(0)
    model, data = torch.nn.Linear(4, 1), Steps()
    before = [p.detach().clone() for p in model.parameters()]

    def step(model, params, optimizer, rows):
        loss = torch.nn.functional.mse_loss(model(data.x[rows]).squeeze(-1), data.y[rows])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return float(loss.detach())

    test = RangeTest(1e-5, 10.0, fallback=1e-3)
    result = find_learning_rate(model, data, test, parse_config({}).training, step, 40)
    assert result.measured and 1e-4 < result.learning_rate < 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    bounded = find_learning_rate(model, data, RangeTest(1e-5, 10.0, fallback=1e-3, ceiling=1e-4),
                                 parse_config({}).training, step, 40)
    assert bounded.measured and bounded.learning_rate == 1e-4  # the same sweep, its answer held at the ceiling


def test_the_stratified_subset_keeps_each_labels_share_and_is_fixed_by_the_seed():
    labels = ["a"] * 600 + ["b"] * 300 + ["c"] * 100
    chosen = stratified_subset(labels, 100, seed=1)
    assert Counter(labels[i] for i in chosen) == {"a": 60, "b": 30, "c": 10}
    assert chosen == sorted(chosen) == stratified_subset(labels, 100, seed=1) != stratified_subset(labels, 100, 2)
    assert stratified_subset(labels[:5], 100, seed=1) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("size", [7, 10])
def test_the_subset_has_exactly_the_size_asked_for(size):
    assert len(stratified_subset(["x", "y", "z"] * 5, size, seed=0)) == size
