"""The embedding quickstart's data: Larkspur Cycles' FAQ (invented facts) searched by customers' questions.

Each FAQ topic of the support example (quickstart/dataset.py) is one document; every phrasing of its
questions, in a few customer contexts, is a query whose positive is that document. `metadata.group` names
the question, so all contexts of one question land in one split: held-out queries are phrasings the model
never saw, searching the same 16-document FAQ.
"""

from __future__ import annotations

import random
from pathlib import Path

from tunesmith.quickstart.dataset import CONTEXTS, SUFFIXES, TOPICS, write_jsonl

VARIANTS_PER_QUESTION = 3


def faq_documents() -> dict[str, str]:
    """Topic name → its FAQ entry (a title and the topic's facts, worded as the support site would)."""
    return {topic.name: f"{topic.name.replace('_', ' ').capitalize()}. {topic.answers[0]} {topic.answers[-1]}"
            for topic in TOPICS}


def faq_pairs(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    documents = faq_documents()
    records = []
    for topic in TOPICS:
        for number, question in enumerate(topic.questions):
            for context in rng.sample(CONTEXTS, VARIANTS_PER_QUESTION):
                query = f"{context} {question}{rng.choice(SUFFIXES)}".strip()
                records.append({"query": query, "positive": documents[topic.name],
                                "metadata": {"topic": topic.name, "group": f"{topic.name}-{number}"}})
    rng.shuffle(records)
    return records


def write_faq_dataset(path: Path, seed: int = 7) -> Path:
    """(query, positive) JSONL, one pair a line."""
    return write_jsonl(path, faq_pairs(seed))
