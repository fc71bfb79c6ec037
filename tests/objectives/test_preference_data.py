"""Preference files in every supported shape become one canonical record; bad rows are named file:line;
prepare deduplicates them and keeps every pair of one prompt in one split."""

from __future__ import annotations

import json

import pytest

from tunesmith.config import ProjectConfig
from tunesmith.data import prepare
from tunesmith.data.validate import validate_file
from tunesmith.project import Project

PROMPT = [{"role": "user", "content": "Which colour is bike A?"}]
CANONICAL = {"messages": [*PROMPT, {"role": "assistant", "content": "Bike A is red. Thank you."}],
             "rejected": "Bike A is red. Go away."}
SHAPES = {
    "openai_dpo": {"input": {"messages": PROMPT, "tools": [], "parallel_tool_calls": True},
                   "preferred_output": [{"role": "assistant", "content": "Bike A is red. Thank you."}],
                   "non_preferred_output": [{"role": "assistant", "content": "Bike A is red. Go away."}]},
    "trl explicit": {"prompt": "Which colour is bike A?", "chosen": "Bike A is red. Thank you.",
                     "rejected": "Bike A is red. Go away."},
    "trl conversational": {"prompt": PROMPT, "chosen": [{"role": "assistant", "content": "Bike A is red. Thank you."}],
                           "rejected": [{"role": "assistant", "content": "Bike A is red. Go away."}]},
    "trl implicit": {"chosen": [*PROMPT, {"role": "assistant", "content": "Bike A is red. Thank you."}],
                     "rejected": [*PROMPT, {"role": "assistant", "content": "Bike A is red. Go away."}]},
    "anthropic hh": {"chosen": "\n\nHuman: Which colour is bike A?\n\nAssistant: Bike A is red. Thank you.",
                     "rejected": "\n\nHuman: Which colour is bike A?\n\nAssistant: Bike A is red. Go away."},
    "llama-factory alpaca": {"instruction": "Which colour is bike A?", "input": "",
                             "chosen": "Bike A is red. Thank you.", "rejected": "Bike A is red. Go away."},
    "llama-factory sharegpt": {"conversations": [{"from": "human", "value": "Which colour is bike A?"}],
                               "chosen": {"from": "gpt", "value": "Bike A is red. Thank you."},
                               "rejected": {"from": "gpt", "value": "Bike A is red. Go away."}},
}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_reads_as_one_canonical_pair(tmp_path, shape):
    from tunesmith.data.validate import inspect_file

    path = _write(tmp_path / "pairs.jsonl", [SHAPES[shape]] * 3)
    inspection = inspect_file(path)
    record = {k: v for k, v in inspection.examples[0].items() if k in CANONICAL}
    assert record == CANONICAL and not inspection.issues
    assert inspection.format == ("openai_dpo" if shape == "openai_dpo" else "chosen_rejected")


def test_rated_answers_for_kto(tmp_path):
    from tunesmith.data.validate import inspect_file

    path = _write(tmp_path / "ratings.jsonl", [{"prompt": "Hi?", "completion": "Hello, thanks.", "label": True},
                                               {"prompt": "Hi?", "completion": "Go away.", "label": False}])
    inspection = inspect_file(path)
    assert inspection.format == "rated"
    assert [r["desirable"] for r in inspection.examples] == [True, False]


def test_bad_pairs_are_named_by_file_and_line(tmp_path):
    good = SHAPES["trl explicit"]
    rows = [good, {**good, "rejected": " Bike A is red.  Thank you. "}, {**good, "chosen": ""},
            {"chosen": "\n\nHuman: A?\n\nAssistant: Yes.", "rejected": "\n\nHuman: B?\n\nAssistant: No."},
            {**good, "prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}, good]
    result = validate_file(_write(tmp_path / "pairs.jsonl", rows))
    found = {(i.line, i.field, i.message) for i in result.errors}
    assert found == {(2, "rejected", "the rejected answer is identical to the chosen one"),
                     (3, "chosen", "empty content"),
                     (4, "rejected", "chosen and rejected do not share a prompt (everything before the last answer)"),
                     (5, "prompt", "the prompt ends with an assistant turn")}
    assert all(i.file.endswith("pairs.jsonl") for i in result.errors)


def test_prepare_dedups_and_splits_by_prompt(tmp_path):
    rows = []
    for prompt in range(40):
        for variant in range(3):  # three pairs per prompt: they must land in one split
            rows.append({"prompt": f"Question number {prompt * 7919 % 10007} about bike {prompt}?",
                         "chosen": f"Answer {prompt}.{variant} for bike {prompt}. Thank you.",
                         "rejected": f"Answer {prompt}.{variant} for bike {prompt}. Go away."})
    rows.append(dict(rows[0]))  # an exact duplicate pair
    _write(tmp_path / "pairs.jsonl", rows)
    config = ProjectConfig.model_validate({"data": {"sources": [{"path": "pairs.jsonl"}], "validation_share": 0.2,
                                                    "test_share": 0.2, "near_duplicates": "off"}})
    dataset = prepare(Project.create(tmp_path, config))
    splits = {name: dataset.split(name) for name in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == 120
    where = {}
    for name, records in splits.items():
        for record in records:
            assert record["rejected"].endswith("Go away.") and record["messages"][-1]["content"].endswith("you.")
            where.setdefault(record["messages"][0]["content"], set()).add(name)
    assert all(len(names) == 1 for names in where.values())
    assert all(splits[name] for name in splits)
