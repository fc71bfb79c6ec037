"""Seeded, group-aware, stratified splitting; pinned splits used as given; the train/held-out leak check
(pure functions)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tunesmith.errors import DataError

HELD_OUT = ("validation", "test")


@dataclass(frozen=True)
class PinnedLeak:
    """A record linked to a record pinned to validation or test without being pinned there itself. It is
    dropped: a pinned split is used as given, so nothing is moved into it."""
    index: int
    pinned: int  # the pinned record it duplicates
    split: str
    reason: str  # exact duplicate | same input | near-duplicate | same group
    similarity: float | None = None

    def describe(self, ids) -> str:
        kind = f"near-duplicate ({self.similarity:.0%} similar)" if self.similarity is not None else self.reason
        return f"{kind} of {self.split} record {ids[self.pinned]}"


def pinned_leaks(groups: list[int], pins: list[str | None], inputs: list[bytes | None],
                 outputs: list[bytes | None], pairs: np.ndarray, similarities: np.ndarray,
                 ids=None) -> list[PinnedLeak]:
    """The records of groups that hold a record pinned to validation or test, other than those pinned
    there; each with the pinned record it duplicates and how (same input, else a near-duplicate pair,
    else only the group links them). Records pinned to validation and test in one group are an error."""
    held: dict[int, tuple[str, int]] = {}
    for i, (group, pin) in enumerate(zip(groups, pins, strict=True)):
        if pin in HELD_OUT:
            split, first = held.setdefault(group, (pin, i))
            if split != pin:
                names = [ids[k] if ids is not None else str(k) for k in (first, i)]
                raise DataError(f"records {names[0]} (pinned to {split}) and {names[1]} (pinned to {pin}) are "
                                "linked: duplicates, same input, near-duplicates or same group (directly or "
                                "through other records)",
                                "Remove the copy from one of the two sources: pinned splits are used as given, "
                                "so tunesmith drops neither.")
    if not held:
        return []
    by_input: dict[bytes, int] = {}
    for i, pin in enumerate(pins):
        if pin in HELD_OUT and inputs[i] is not None:
            by_input.setdefault(inputs[i], i)
    near: dict[int, tuple[int, float]] = {}
    for (first, second), share in zip(pairs.tolist(), similarities.tolist(), strict=True):
        for other, pinned in ((first, second), (second, first)):
            if pins[pinned] in HELD_OUT and pins[other] != pins[pinned] and share > near.get(other, (0, -1.0))[1]:
                near[other] = (pinned, share)
    leaks = []
    for i, group in enumerate(groups):
        if group not in held or pins[i] == held[group][0]:
            continue
        split, first = held[group]
        same_input = by_input.get(inputs[i]) if inputs[i] is not None else None
        if same_input is not None:
            reason = "exact duplicate" if outputs[i] == outputs[same_input] else "same input"
            leaks.append(PinnedLeak(i, same_input, split, reason))
        elif i in near:
            leaks.append(PinnedLeak(i, near[i][0], split, "near-duplicate", near[i][1]))
        else:
            leaks.append(PinnedLeak(i, first, split, "same group"))
    return leaks


def assign_splits(groups: list[int], labels: list[str | None], pinned: list[str | None],
                  validation_share: float, test_share: float, seed: int,
                  ids: list[str] | None = None) -> list[str]:
    """A split name per record. Records sharing a group id land in one split; a pinned record takes its
    group with it (`pinned_leaks` has removed the other records linked to a pinned validation/test one).

    Unpinned groups are shuffled per label and cut by record counts: test first, then validation from the
    rest, each stratified (largest remainders across labels) and at least one group when its share is
    above 0. A split that a source pins gets no unpinned records, and train keeps at least one group.
    """
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
    pinned_names = set(pinned) - {None}
    order = sorted(buckets, key=lambda x: (x is None, str(x)))
    sizes = {label: sum(len(members[g]) for g in buckets[label]) for label in order}
    test_target = _target(sum(sizes.values()), 0.0 if "test" in pinned_names else test_share)
    test_quota = _apportion(test_target, sizes)
    validation_target = _target(sum(sizes.values()) - test_target,
                                0.0 if "validation" in pinned_names else validation_share)
    validation_quota = _apportion(validation_target, {label: sizes[label] - test_quota[label] for label in order})
    spare = sum(len(buckets[label]) for label in order) - (0 if "train" in pinned_names else 1)
    rng = random.Random(seed)
    for label in order:
        bucket = buckets[label]
        rng.shuffle(bucket)
        quota = {"test": test_quota[label], "validation": validation_quota[label]}
        taken = {"test": 0, "validation": 0}
        for group in bucket:
            name = next((n for n in ("test", "validation") if taken[n] < quota[n]), "train")
            if name != "train" and spare > 0:
                spare -= 1
                taken[name] += len(members[group])
            else:
                name = "train"
            for i in members[group]:
                result[i] = name
    return result


def _target(records: int, share: float) -> int:
    """Records a held-out split should get: its share, rounded, and at least one when asked for."""
    return max(1, round(records * share)) if share > 0 and records else 0


def _apportion(target: int, sizes: dict) -> dict:
    """`target` split across labels in proportion to `sizes` (largest remainders; ties in label order)."""
    total = sum(sizes.values())
    if not total:
        return dict.fromkeys(sizes, 0)
    quota = {label: target * size // total for label, size in sizes.items()}
    remainders = sorted(sizes, key=lambda label: -(target * sizes[label] % total))
    for label in remainders[:target - sum(quota.values())]:
        quota[label] += 1
    return quota


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
