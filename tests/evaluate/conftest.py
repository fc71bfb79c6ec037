"""Fixtures for evaluation tests: a tiny chat project with facts in its records."""

from __future__ import annotations

import pytest

from tunesmith.config import parse_config
from tunesmith.project import Project


def chat_record(i: int, question: str, answer: str, facts: list[str], augmented: bool = False) -> dict:
    meta = {"facts": facts} | ({"augmented": True} if augmented else {})
    return {"id": f"r{i}", "meta": meta, "messages": [
        {"role": "system", "content": "You are Larkspur's support assistant."},
        {"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


@pytest.fixture
def chat_splits() -> dict[str, list[dict]]:
    facts = [("How long can I return a bike?", "You can return it within 45 days.", ["45 days"]),
             ("How much is the Commuter 2?", "The Commuter 2 costs $1,499.", ["$1,499"]),
             ("When is my refund?", "Within 5 business days after Utrecht receives it.",
              ["5 business days", "Utrecht"])]
    train = [chat_record(i, q, a, f) for i, (q, a, f) in enumerate(facts * 3)]
    test = [chat_record(100 + i, f"{q} (asked {i})", a, f) for i, (q, a, f) in enumerate(facts * 4)]
    test.append(chat_record(999, "synthetic?", "synthetic answer", ["nope"], augmented=True))
    return {"train": train, "validation": test[:3], "test": test}


@pytest.fixture
def chat_project(tmp_path, tiny_lm_dir) -> Project:
    config = parse_config({
        "objective": {"task": "chat", "description": "Answer questions about Larkspur e-bikes."},
        "model": {"name": str(tiny_lm_dir)},
        "evaluation": {"max_new_tokens": 6, "batch_size": 4, "few_shot_k": 2, "bootstrap_samples": 200,
                       "checks": [{"name": "no-apology", "kind": "keyword", "keywords": ["sorry"],
                                   "must": "not_appear"}],
                       "judge": {"enabled": True, "max_new_tokens": 2}},
    })
    return Project.create(tmp_path / "project", config)
