"""Pinned splits are used as given; without a pinned test split, prepare carves an honest one."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tunesmith.data import prepare
from tunesmith.data.split import assign_splits
from tunesmith.errors import TunesmithError


def chat(question: str, answer: str, **meta) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            **({"metadata": meta} if meta else {})}


BENCHMARK = [  # the user's test file: copies of one another on purpose (their benchmark, used as given)
    chat("Which frame sizes does the Trail 5 come in?", "Small, medium and large.", group="sizes"),
    chat("How long is the warranty on the motor?", "Five years on the motor and two on the battery."),
    chat("How long is the warranty on the motor?", "Five years on the motor and two on the battery."),
    chat("Can I ride the Fold 1 in heavy rain?", "Yes, it is rated IPX5 against rain."),
    chat("Can I ride the Fold 1 in heavy rain ?", "Yes, it is rated IPX5 against rain!"),
    chat("Does the Commuter 2 have a kickstand?", "Yes, a double kickstand is included.", group="stand"),
    chat("Does the Commuter 2 have a kickstand?", "No, it is sold separately."),  # a conflict, kept
]
LEAKS = {  # training records that would leak into the benchmark, and how
    "exact duplicate": chat("How long is the warranty on the motor?",
                            "Five years on the motor and two on the battery."),
    "same input": chat("Can I ride the Fold 1 in heavy rain?", "Only with the rain cover."),
    "near-duplicate": chat("Which frame sizes does the Trail 5 come in? Thanks",
                           "Small, medium and large."),
    "same group": chat("What sizes are there for the Trail 5 frame?", "S, M and L.", group="sizes"),
}


def _texts(records: list[dict]) -> list[str]:
    return [r["messages"][0]["content"] + " / " + r["messages"][-1]["content"] for r in records]


@pytest.mark.parametrize("settings", [{}, {"near_duplicates": "keep", "conflicts": "drop"},
                                      {"exact_duplicates": "keep", "pin": "train"}])
def test_a_pinned_test_file_is_used_as_given_and_its_copies_are_dropped_elsewhere(make_project, chat_rows, settings):
    settings = dict(settings)
    pin = settings.pop("pin", "auto")
    own = chat_rows(30)
    project = make_project({**settings, "sources": [{"path": "train.jsonl", "split": pin},
                                                    {"path": "bench.jsonl", "split": "test"}]},
                           files={"train.jsonl": [*own[:10], *LEAKS.values(), *own[10:]], "bench.jsonl": BENCHMARK})
    dataset = prepare(project)
    assert _texts(dataset.split("test")) == _texts(BENCHMARK)  # every record, in order, nothing added
    assert [r["id"] for r in dataset.split("test")] == [f"bench-{k}" for k in range(1, 8)]
    elsewhere = dataset.split("train") + dataset.split("validation")
    assert sorted(_texts(elsewhere)) == sorted(_texts(own))
    leaks = {"exact duplicate": "bench-2", "same input": "bench-4", "near-duplicate": "bench-1",
             "same group": "bench-1"}
    if settings.get("conflicts") == "drop":  # the same input with another answer goes as a conflict first
        del leaks["same input"]
        assert dataset.manifest["counts"]["dropped_conflicts"] == 1
    assert dataset.manifest["counts"]["dropped_leaks"] == len(leaks)
    assert dataset.manifest["counts"]["rejected"] == 0  # leaks are not invalid rows
    rejects = [json.loads(line) for line in dataset.rejects_path.read_text().splitlines()]
    assert {r["reason"]: r["duplicates"] for r in rejects} == leaks
    assert all(r["file"] == "train.jsonl" and r["pinned_split"] == "test" and r["duplicates_file"] == "bench.jsonl"
               and r["row"]["messages"] for r in rejects)
    near = next(r for r in rejects if r["reason"] == "near-duplicate")
    assert "near-duplicate (" in near["message"] and "% similar) of test record bench-1" in near["message"]
    assert dataset.manifest["splits"]["test"] == {"origin": "pinned", "sources": ["bench.jsonl"],
                                                  "dropped_leaks": len(leaks)}
    report = dataset.report_path.read_text()
    assert f"pinned by bench.jsonl, used as given; {len(leaks)} record(s) of other sources that duplicate it" in report


def test_a_pinned_validation_split_is_used_as_given_and_test_is_carved_from_the_rest(make_project, chat_rows):
    own = chat_rows(40)
    project = make_project({"sources": [{"path": "train.jsonl"}, {"path": "dev.jsonl", "split": "validation"}]},
                           files={"train.jsonl": [*own, *LEAKS.values()], "dev.jsonl": BENCHMARK})
    dataset = prepare(project)
    assert _texts(dataset.split("validation")) == _texts(BENCHMARK)
    assert len(dataset.split("test")) == 4 and len(dataset.split("train")) == 36  # 10% of the 40 unpinned
    assert not set(_texts(dataset.split("test") + dataset.split("train"))) & set(_texts(LEAKS.values()))
    assert dataset.manifest["counts"]["dropped_leaks"] == len(LEAKS)
    assert dataset.manifest["splits"]["test"] == {"origin": "carved", "share": 0.1}


def test_records_pinned_to_validation_and_to_test_that_copy_each_other_are_one_clear_error(make_project, chat_rows):
    project = make_project({"sources": [{"path": "dev.jsonl", "split": "validation"},
                                        {"path": "bench.jsonl", "split": "test"}, {"path": "train.jsonl"}]},
                           files={"dev.jsonl": BENCHMARK[:2], "bench.jsonl": BENCHMARK[2:],
                                  "train.jsonl": chat_rows(10)})
    with pytest.raises(TunesmithError, match=r"records dev-2 \(pinned to validation\) and bench-1 \(pinned to test\)"):
        prepare(project)


def test_without_a_pinned_test_source_prepare_carves_a_test_split_and_says_so(make_project, chat_rows):
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(50)})
    dataset = prepare(project)
    sizes = {name: len(dataset.split(name)) for name in ("train", "validation", "test")}
    assert sizes == {"train": 41, "validation": 4, "test": 5}  # 10% of 50, then round(4.5) of the 45 left
    assert dataset.manifest["splits"]["test"] == {"origin": "carved", "share": 0.1}
    assert not [w for w in dataset.manifest["warnings"] if w["field"].startswith("data.")]
    report = dataset.report_path.read_text()
    assert "carved by tunesmith: 10% of the unpinned records, stratified, whole groups" in report


def test_no_test_split_is_a_warning_that_evaluation_will_be_optimistic(make_project, chat_rows):
    project = make_project({"sources": [{"path": "chat.jsonl"}], "test_share": 0},
                           files={"chat.jsonl": chat_rows(20)})
    dataset = prepare(project)
    assert dataset.split("test") == []
    warning = next(w for w in dataset.manifest["warnings"] if w["field"] == "data.test_share")
    assert "optimistic" in warning["message"] and "split: test" in warning["hint"]


@pytest.mark.parametrize(("records", "sizes"), [(3, {"train": 1, "validation": 1, "test": 1}),
                                                (2, {"train": 1, "validation": 0, "test": 1}),
                                                (1, {"train": 1, "validation": 0, "test": 0})])
def test_tiny_datasets_keep_one_record_per_split_while_they_can(records, sizes):
    splits = assign_splits(list(range(records)), [None] * records, [None] * records, 0.1, 0.1, seed=0)
    assert Counter(splits) == Counter({k: v for k, v in sizes.items() if v})


def test_a_tiny_dataset_that_cannot_fill_every_split_says_which_one_is_empty(make_project, chat_rows):
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(2)})
    dataset = prepare(project)
    assert len(dataset.split("train")) == 1 and len(dataset.split("test")) == 1
    warning = next(w for w in dataset.manifest["warnings"] if w["field"] == "data.validation_share")
    assert warning["message"].startswith("the validation split is empty")


def test_small_classes_still_give_the_test_split_its_share_overall():
    labels = [label for label in "abc" for _ in range(4)]  # 10% of 12 is one record, but 0.4 per class
    splits = assign_splits(list(range(12)), labels, [None] * 12, 0.1, 0.1, seed=0)
    assert Counter(splits) == {"train": 10, "test": 1, "validation": 1}


def test_a_split_pinned_by_a_source_gets_no_unpinned_records():
    pins = ["test"] * 3 + [None] * 20
    splits = assign_splits(list(range(23)), [None] * 23, pins, 0.1, 0.5, seed=0)
    assert splits[:3] == ["test"] * 3 and "test" not in splits[3:] and splits[3:].count("validation") == 2


def test_pinned_test_records_survive_the_length_filter(make_project, chat_rows, tiny_lm_dir):
    long = chat("Tell me everything about the Trail 5. " * 30, "It is a mountain e-bike.")
    project = make_project({"overlong": "drop", "sources": [
        {"path": "train.jsonl"}, {"path": "bench.jsonl", "split": "test"}]},
        files={"train.jsonl": [*chat_rows(10), long], "bench.jsonl": [long, BENCHMARK[0]]})
    project.config.model.name, project.config.model.max_length = str(tiny_lm_dir), 160
    dataset = prepare(project)
    assert len(dataset.split("test")) == 2 and dataset.manifest["counts"]["overlong"] == 2
    assert dataset.manifest["counts"]["dropped_by_length"] == 1  # the training copy
