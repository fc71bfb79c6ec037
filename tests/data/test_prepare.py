"""prepare(): the contract other stages rely on."""

from __future__ import annotations

import json

import pytest

from tunesmith.data import load_prepared, prepare
from tunesmith.errors import TunesmithError


def test_prepare_writes_a_versioned_dataset_and_keeps_meta(make_project, chat_rows):
    rows = chat_rows(40)
    project = make_project({"sources": [{"path": "chat.jsonl"}], "test_share": 0.1, "validation_share": 0.2},
                           files={"chat.jsonl": rows})
    dataset = prepare(project)
    assert dataset.path == project.data_dir / dataset.version
    for name in ("train.parquet", "validation.parquet", "test.parquet", "manifest.json", "report.html"):
        assert (dataset.path / name).exists()
    counts = {name: len(dataset.split(name)) for name in ("train", "validation", "test")}
    assert counts == {"train": 29, "validation": 7, "test": 4}
    everything = [r for name in counts for r in dataset.split(name)]
    assert sorted(r["meta"]["facts"][0] for r in everything) == sorted(f"ref {i}" for i in range(40))
    assert all(set(r) == {"id", "messages", "meta"} for r in everything)
    assert dataset.task == "chat" and dataset.manifest["counts"]["train"] == 29
    reloaded = load_prepared(dataset.path)
    assert reloaded.split("test") == dataset.split("test")


def test_same_inputs_same_version_changed_input_new_version(make_project, chat_rows, tmp_path):
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(12)})
    first = prepare(project)
    assert prepare(project).version == first.version
    project.config.data.seed = 7
    assert prepare(project).version != first.version
    project.config.data.seed = 42
    (tmp_path / "chat.jsonl").write_text((tmp_path / "chat.jsonl").read_text() + json.dumps(chat_rows(1, 99)[0]) + "\n")
    assert prepare(project).version != first.version


def test_rejects_file_and_strict_mode(make_project, chat_rows, tmp_path):
    rows = [*chat_rows(5), {"messages": [{"role": "user", "content": "no answer"}]}, {"prompt": "x"}]
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": rows})
    dataset = prepare(project)
    rejects = [json.loads(line) for line in dataset.rejects_path.read_text().splitlines()]
    assert [(r["file"], r["line"], r["field"], r["message"]) for r in rejects] == [
        ("chat.jsonl", 6, "messages", "conversation has no assistant turn"),
        ("chat.jsonl", 7, "", "unknown keys prompt")]
    assert dataset.manifest["counts"]["rejected"] == 2
    project.config.data.strict = True
    with pytest.raises(TunesmithError) as err:
        prepare(project)
    assert "chat.jsonl:6: messages: conversation has no assistant turn" in str(err.value)
    assert "chat.jsonl:7: unknown keys prompt" in str(err.value)


def test_empty_split_returns_empty_list(make_project, chat_rows):
    project = make_project({"sources": [{"path": "chat.jsonl"}], "test_share": 0}, files={"chat.jsonl": chat_rows(10)})
    dataset = prepare(project)
    assert dataset.split("test") == []
    assert len(dataset.split("train")) + len(dataset.split("validation")) == 10
