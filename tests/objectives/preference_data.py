"""Synthetic preference data for the tests: the chosen answer ends with a polite sign-off, the rejected one
with a rude one (same answer, same length in tokens), so the rule is learnable and the base model has no
reason to follow it."""

from __future__ import annotations

import random

POLITE = ["Thank you.", "Kind regards.", "Best wishes.", "Many thanks.", "With thanks.", "Cheers.",
          "Warm regards.", "Take care."]
RUDE = ["Go away.", "Who cares.", "Stop asking.", "Leave me.", "So what.", "Not again.", "Get lost.",
        "How boring."]
COLOURS = ["red", "blue", "green", "gold", "black", "white", "pink", "gray"]


def pairs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        item = rng.randrange(1000)
        answer = f"Item {item} is {rng.choice(COLOURS)}."
        records.append({"id": f"p{seed}-{i}", "messages": [
            {"role": "user", "content": f"What colour is item {item}?"},
            {"role": "assistant", "content": f"{answer} {rng.choice(POLITE)}"}],
            "rejected": f"{answer} {rng.choice(RUDE)}", "meta": {}})
    return records


def ratings(n: int, seed: int) -> list[dict]:
    """The same rule as single answers rated good (polite) or bad (rude), half each."""
    out = []
    for i, record in enumerate(pairs(n, seed)):
        answer = record["messages"][-1]["content"] if i % 2 == 0 else record["rejected"]
        out.append({"id": record["id"], "messages": [record["messages"][0], {"role": "assistant", "content": answer}],
                    "desirable": i % 2 == 0, "meta": {}})
    return out
