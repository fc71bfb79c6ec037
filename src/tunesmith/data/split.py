"""Seeded, group-aware, stratified splitting and the train/held-out leak check (pure functions)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tunesmith.errors import DataError


def assign_splits(groups: list[int], labels: list[str | None], pinned: list[str | None],
                  validation_share: float, test_share: float, seed: int,
                  ids: list[str] | None = None) -> list[str]:
    """A split name per record. Records sharing a group id land in one split; a pinned record takes its
    group with it; unpinned groups are shuffled per label (stratified) and cut by record counts."""
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    result = ["train"] * len(groups)
    buckets: dict[str | None, list[int]] = defaultdict(list)
    for group in sorted(members):
        pins = {pinned[i] for i in members[group] if pinned[i]}
        if len(pins) > 1:
            names = ", ".join(ids[i] if ids else str(i) for i in members[group][:5])
            raise DataError(f"train/held-out leak: records {names} are (near-)duplicates pinned to different splits "
                            f"({', '.join(sorted(pins))})",
                            "Remove the copy from one of the sources: it would leak between splits.")
        if pins:
            pin = pins.pop()
            for i in members[group]:
                result[i] = pin
            continue
        buckets[labels[members[group][0]]].append(group)
    rng = random.Random(seed)
    for label in sorted(buckets, key=lambda x: (x is None, str(x))):
        bucket = buckets[label]
        rng.shuffle(bucket)
        size = sum(len(members[g]) for g in bucket)
        test_target = round(size * test_share)
        validation_target = round((size - test_target) * validation_share)
        taken = {"test": 0, "validation": 0}
        for group in bucket:
            if taken["test"] < test_target:
                name = "test"
            elif taken["validation"] < validation_target:
                name = "validation"
            else:
                name = "train"
            if name != "train":
                taken[name] += len(members[group])
            for i in members[group]:
                result[i] = name
    return result


@dataclass(frozen=True)
class Leak:
    held_out_id: str
    split: str
    train_id: str
    similarity: float

    def __str__(self) -> str:
        kind = "same input as" if self.similarity >= 1.0 else f"{self.similarity:.0%} similar to"
        return f"{self.split} item {self.held_out_id} is {kind} train item {self.train_id}"


def find_leaks(ids: list[str], splits: list[str], inputs: list[bytes | None], pairs: np.ndarray,
               similarities: np.ndarray) -> list[Leak]:
    """Held-out (validation/test) items whose input equals a train item's, or that form a near-duplicate
    pair (from `near_duplicate_pairs`, indices into `ids`) with a train item."""
    by_input = {inputs[i]: i for i, name in enumerate(splits) if name == "train" and inputs[i] is not None}
    leaks: dict[int, Leak] = {}
    for i, name in enumerate(splits):
        if name != "train" and inputs[i] is not None and inputs[i] in by_input:
            leaks[i] = Leak(ids[i], name, ids[by_input[inputs[i]]], 1.0)
    for (first, second), share in zip(pairs.tolist(), similarities.tolist(), strict=True):
        for held, train in ((first, second), (second, first)):
            if splits[held] != "train" and splits[train] == "train" and held not in leaks:
                leaks[held] = Leak(ids[held], splits[held], ids[train], share)
    return [leaks[i] for i in sorted(leaks)]


def check_leaks(leaks: list[Leak], limit: int = 10) -> None:
    """Fail loudly: a held-out item seen in training inflates every score computed on it."""
    if leaks:
        listed = "; ".join(str(leak) for leak in leaks[:limit])
        more = f"; and {len(leaks) - limit} more" if len(leaks) > limit else ""
        raise DataError(f"train/held-out leak: {len(leaks)} held-out item(s) also in train: {listed}{more}.",
                        "Remove the copies from the train source, or let tunesmith split the data (split: auto).")
