"""A preference set on the quickstart's support data: each answer closed with the house sign-off is chosen over the
same answer closed with a generic one. The demonstrations without any sign-off teach the facts (SFT); the pairs
teach the house style on top (DPO after SFT), which neither the base model nor the SFT data prefers.

Used by the acceptance test of DPO after SFT on the bundled model and by bench/preference.py.
"""

from __future__ import annotations

import random

from tunesmith.quickstart.dataset import SIGN_OFF, support_examples

GENERIC_SIGN_OFFS = ("Best regards, Customer Service", "Kind regards, the Support Team",
                     "Thank you for contacting us.")


def _without_sign_off(record: dict) -> list[dict]:
    *prompt, answer = record["messages"]
    return [*prompt, {"role": "assistant", "content": answer["content"].removesuffix(SIGN_OFF).rstrip()}]


def support_demonstrations(seed: int = 7) -> list[dict]:
    """The quickstart's examples with the house sign-off removed (facts and greeting kept)."""
    return [{"messages": _without_sign_off(r), "meta": dict(r["metadata"])} for r in support_examples(seed)]


def support_pairs(seed: int = 7) -> list[dict]:
    """Canonical pair records: the answer with the house sign-off (chosen) or a generic one (rejected)."""
    rng = random.Random(seed)
    pairs = []
    for record in support_demonstrations(seed):
        *prompt, answer = record["messages"]
        plain = answer["content"]
        pairs.append({"messages": [*prompt, {"role": "assistant", "content": f"{plain} {SIGN_OFF}"}],
                      "rejected": f"{plain} {rng.choice(GENERIC_SIGN_OFFS)}", "meta": record["meta"]})
    return pairs


def split_by_question(records: list[dict], test_questions: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, test) with every phrasing of a question on one side (meta.group), so test prompts are unseen."""
    groups = sorted({r["meta"]["group"] for r in records})
    held = set(random.Random(seed).sample(groups, test_questions))
    return [r for r in records if r["meta"]["group"] not in held], [r for r in records if r["meta"]["group"] in held]
