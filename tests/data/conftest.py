"""Helpers for data tests: write files and build projects in a temp folder."""

from __future__ import annotations

import json

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.project import Project


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def make_chat_rows(n: int, start: int = 0) -> list[dict]:
    """Distinct support conversations (no two are near-duplicates)."""
    topics = ["password", "invoice", "shipping", "refund", "account", "login", "delivery", "warranty",
              "coupon", "subscription", "address", "payment", "return", "order", "battery", "screen"]
    rows = []
    for i in range(start, start + n):
        topic, other = topics[i % len(topics)], topics[(i * 7 + 3) % len(topics)]
        rows.append({"messages": [
            {"role": "user", "content": f"Question {i}: my {topic} and {other} need help, code {i * 7919 % 10007}"},
            {"role": "assistant", "content": f"For {topic} case {i * 31 % 997}, open {other} settings (ref {i})."}],
            "metadata": {"facts": [f"ref {i}"]}})
    return rows


@pytest.fixture
def make_project(tmp_path):
    def build(data: dict, task: str = "chat", files: dict | None = None) -> Project:
        for name, rows in (files or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(rows, (bytes, str)):
                path.write_bytes(rows if isinstance(rows, bytes) else rows.encode())
            else:
                write_jsonl(path, rows)
        config = ProjectConfig.model_validate({"objective": {"task": task}, "data": data})
        return Project.create(tmp_path, config)

    return build


@pytest.fixture
def chat_rows():
    return make_chat_rows
