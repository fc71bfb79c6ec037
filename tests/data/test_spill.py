"""Spilling records and signatures to disk changes nothing in the output and leaves nothing behind."""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.errors import LiveError
from rich.progress import Progress

from tunesmith.data import prepare
from tunesmith.data import spill as spill_module
from tunesmith.data.dedup import near_duplicate_pairs, signatures
from tunesmith.data.spill import SignatureStore
from tunesmith.progress import progress_bar

prepare_module = importlib.import_module("tunesmith.data.prepare")
grouping_module = importlib.import_module("tunesmith.data.grouping")


def templated_texts(n: int, seed: int = 0) -> list[str]:
    """Support tickets from one template (many false LSH candidates) plus small-edit copies."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        if texts and rng.random() < 0.2:
            texts.append(rng.choice(texts).replace("Hi,", "Hello,", 1) + " thanks")
        else:
            texts.append(f"Hi, I need to {rng.choice(['reset', 'track', 'cancel'])} my {rng.choice(['order', 'card'])}"
                         f". Step 1: open settings, choose reset and confirm code {rng.randrange(10**6):06d}.")
    return texts


def test_signature_store_finds_the_pairs_of_in_memory_lsh(tmp_path):
    sigs = signatures(templated_texts(600))
    store = SignatureStore(0.8, tmp_path)
    for start, stop in ((0, 1), (1, 250), (250, 251), (251, 600)):  # uneven blocks, as streaming makes them
        store.append(sigs[start:stop])
    pairs, similar = store.pairs()
    store.close()
    expected_pairs, expected_similar = near_duplicate_pairs(sigs, 0.8)
    assert len(expected_pairs) > 50
    assert np.array_equal(pairs, expected_pairs) and np.array_equal(similar, expected_similar)
    assert list(tmp_path.iterdir()) == []


class InMemoryRecords:
    """The reference: records kept in RAM as dicts (what RecordStore replaces)."""

    def __init__(self, folder=None):
        self.records, self.labels = [], []

    def __len__(self):
        return len(self.records)

    def append(self, record):
        self.records.append(record)
        self.labels.append(record.get("label"))

    def get(self, position):
        return self.records[position]

    @property
    def ids(self):
        return [r["id"] for r in self.records]

    def close(self):
        pass


class InMemorySignatures:
    """The reference: one signature matrix in RAM, LSH over it at once (near_duplicate_pairs)."""

    def __init__(self, threshold, folder=None):
        self.threshold, self.blocks = threshold, []

    def append(self, sigs):
        self.blocks.append(sigs)

    def pairs(self):
        return near_duplicate_pairs(np.concatenate(self.blocks), self.threshold)

    def close(self):
        pass


class ReferenceIds(list):
    def __init__(self, store, positions):
        super().__init__(store.ids[i] for i in positions)


def corpus(chat_rows) -> dict:
    rows = chat_rows(120)
    rng = random.Random(3)
    rows += [rng.choice(rows) for _ in range(15)]  # exact copies
    for row in rng.sample(rows[:120], 15):  # small-edit paraphrases
        edited = {**row, "messages": [dict(m) for m in row["messages"]]}
        edited["messages"][0]["content"] = edited["messages"][0]["content"].replace("need help", "needs help")
        rows.append(edited)
    conflict = {**rows[7], "messages": [rows[7]["messages"][0], {"role": "assistant", "content": "Other answer."}]}
    rows += [conflict, {"messages": [{"role": "user", "content": "no answer"}]}, {"prompt": "x"}]
    return {"chat.jsonl": rows, "pinned.jsonl": chat_rows(10, 500)}


def prepared_files(make_project, chat_rows) -> dict[str, bytes]:
    project = make_project({"test_share": 0.1, "sources": [{"path": "chat.jsonl", "weight": 1.5},
                                                           {"path": "pinned.jsonl", "split": "test"}]},
                           files=corpus(chat_rows))
    dataset = prepare(project)
    assert [p.name for p in project.data_dir.iterdir()] == [dataset.version]  # no spill or staging litter
    manifest = dict(dataset.manifest)
    manifest.pop("created")
    files = {p.name: p.read_bytes() for p in dataset.path.iterdir() if p.suffix in (".parquet", ".jsonl")}
    return {**files, "manifest": json.dumps(manifest, sort_keys=True).encode()}


def test_prepared_output_is_byte_identical_to_the_in_memory_reference(make_project, chat_rows, tmp_path,
                                                                      monkeypatch):
    spilled = prepared_files(make_project, chat_rows)
    (tmp_path / "data").rename(tmp_path / "spilled-data")  # the same version is prepared again below
    monkeypatch.setattr(grouping_module, "RecordStore", InMemoryRecords)
    monkeypatch.setattr(grouping_module, "SignatureStore", InMemorySignatures)
    monkeypatch.setattr(grouping_module, "Ids", ReferenceIds)
    reference = prepared_files(make_project, chat_rows)
    counts = json.loads(reference["manifest"])["counts"]
    assert counts["dropped_exact_duplicates"] >= 15 and counts["dropped_near_duplicates"] >= 10
    assert counts["conflicting_duplicates"] == 2 and counts["rejected"] == 2 and counts["weight_repeats"] > 0
    assert spilled.keys() == reference.keys()
    for name in reference:
        assert spilled[name] == reference[name], name


def open_files_under(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    if not fds.exists():
        return []
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return [t for t in targets if t.startswith(str(folder))]


@pytest.mark.parametrize("fail_in", ["none", "dedup", "write"])
def test_spill_files_are_gone_after_success_and_after_an_error(make_project, chat_rows, monkeypatch, fail_in):
    spills = []
    original_init = spill_module.SpillFile.__init__

    def tracked_init(self, folder=None):
        original_init(self, folder)
        spills.append((self, folder))

    monkeypatch.setattr(spill_module.SpillFile, "__init__", tracked_init)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    if fail_in == "dedup":
        monkeypatch.setattr(grouping_module.Deduplicator, "finish", fail)
    elif fail_in == "write":
        monkeypatch.setattr(prepare_module, "write_split", fail)
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(30)})
    if fail_in == "none":
        prepare(project)
    else:
        with pytest.raises(RuntimeError, match="disk full"):
            prepare(project)
    assert len(spills) == 5  # records, signatures, band keys, low bytes, rejected rows
    assert all(folder == project.data_dir for _, folder in spills)
    assert all(spill.closed for spill, _ in spills)
    assert open_files_under(project.data_dir) == []
    left = list(project.data_dir.iterdir())
    if fail_in == "none":
        assert len(left) == 1 and (left[0] / "manifest.json").exists()
    else:
        assert left == []  # neither spill files nor a half-written staging folder


def test_read_progress_reports_records_and_counts_source_bytes(make_project, chat_rows, capsys):
    project = make_project({"sources": [{"path": "chat.jsonl"}]}, files={"chat.jsonl": chat_rows(30)})
    prepare(project)
    assert "reading: 30 records in" in capsys.readouterr().err


def test_progress_bar_counts_without_drawing_when_another_live_display_cannot_nest(monkeypatch, capsys):
    def refuse(self):
        raise LiveError("Only one live display may be active at once")

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(Progress, "start", refuse)  # what rich < 14 does inside status()
    with progress_bar("reading", 100, "records") as update:
        update(50, 7)
    assert "reading: 7 records in" in capsys.readouterr().err
