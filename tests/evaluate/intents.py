"""A small intent-classification example dataset written for these tests (billing, shipping, technical)."""

from __future__ import annotations

import random

TEMPLATES = {
    "billing": ["I was charged twice for my {thing}", "Can I get an invoice for the {thing}?",
                "Why is there an extra fee on my {thing} order?", "My card was declined when paying for the {thing}",
                "Please refund the {thing} payment"],
    "shipping": ["Where is my {thing} delivery?", "The {thing} parcel has not arrived yet",
                 "Can you ship the {thing} to Belgium?", "How long does {thing} delivery take?",
                 "The courier lost my {thing}"],
    "technical": ["The {thing} battery does not charge", "My {thing} display shows error E42",
                  "The motor of the {thing} makes a grinding noise", "How do I update the {thing} firmware?",
                  "The {thing} app will not pair over bluetooth"],
}
THINGS = ["e-bike", "helmet", "Commuter 2", "Trail X", "charger", "lock", "cargo bike"]


def intent_records(n_per_label: int, seed: int = 0, prefix: str = "c") -> list[dict]:
    rng = random.Random(seed)
    records = []
    for label, templates in TEMPLATES.items():
        for i in range(n_per_label):
            text = rng.choice(templates).format(thing=rng.choice(THINGS))
            records.append({"id": f"{prefix}-{label}-{i}", "text": text, "label": label, "meta": {}})
    rng.shuffle(records)
    return records


def intent_splits() -> dict[str, list[dict]]:
    return {"train": intent_records(8, seed=1, prefix="tr"), "validation": intent_records(3, seed=2, prefix="va"),
            "test": intent_records(6, seed=3, prefix="te")}
