"""The fixed validation subset that mid-training checks use (`training.validation_subset`)."""

from __future__ import annotations

import random
from collections import defaultdict


def stratified_subset(labels: list, size: int, seed: int) -> list[int]:
    """Sorted indices of `size` items (all when there are no more) that keep each label's share, rounded by
    largest remainder; which items of a label is drawn with `seed` (pure)."""
    if size >= len(labels):
        return list(range(len(labels)))
    by_label: dict = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[str(label)].append(index)
    exact = {label: size * len(items) / len(labels) for label, items in by_label.items()}
    quota = {label: int(share) for label, share in exact.items()}
    left = size - sum(quota.values())
    for label in sorted(exact, key=lambda name: (quota[name] - exact[name], name))[:left]:
        quota[label] += 1
    rng = random.Random(seed)
    chosen = [i for label in sorted(by_label) for i in rng.sample(by_label[label], quota[label])]
    return sorted(chosen)
