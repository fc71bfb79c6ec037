"""Embedding data through the data layer: formats, file:line errors, and a split that never trains on a
held-out query or a near-duplicate of it."""

from __future__ import annotations

import json

from tunesmith.config import ProjectConfig
from tunesmith.data.prepare import prepare
from tunesmith.data.validate import validate_file, validate_project
from tunesmith.project import Project


def _project(tmp_path, name: str, text: str, **data) -> Project:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text, encoding="utf-8")
    config = ProjectConfig.model_validate({"objective": {"task": "embedding"},
                                           "data": {"sources": [{"path": name}], **data}})
    return Project.create(tmp_path, config)


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_jsonl_and_csv_pairs_become_canonical_records(tmp_path):
    rows = [{"query": f"question {i} about topic {i}", "positive": f"document {i}", "negative": f"other {i}"}
            for i in range(12)]
    project = _project(tmp_path, "pairs.jsonl", _jsonl(rows), test_share=0.25, validation_share=0)
    dataset = prepare(project)
    records = dataset.split("train") + dataset.split("test")
    assert {r["query"] for r in records} == {r["query"] for r in rows}
    assert all(r["positive"].startswith("document") and r["negative"].startswith("other") for r in records)

    csv = "sentence1,sentence2,score\n" + "".join(f"a cat number {i},a feline {i},{i / 10}\n" for i in range(10))
    scored = prepare(_project(tmp_path / "csv", "scored.csv", csv, test_share=0, validation_share=0))
    assert sorted(r["score"] for r in scored.split("train")) == [i / 10 for i in range(10)]
    assert validate_file(tmp_path / "csv" / "scored.csv").errors == []  # the task follows the format


def test_bad_rows_are_named_by_file_line_and_field(tmp_path):
    lines = [{"query": "ok", "positive": "fine"}, {"query": "", "positive": "doc"},
             {"query": "q", "positive": 3}, {"query": "q2", "positive": "d", "negative": ["x"]}]
    project = _project(tmp_path, "pairs.jsonl", _jsonl(lines))
    errors = [(e.file, e.line, e.field) for e in validate_project(project).errors]
    assert errors == [("pairs.jsonl", 2, "query"), ("pairs.jsonl", 3, "positive"), ("pairs.jsonl", 4, "negative")]

    csv = "sentence1,sentence2,score\na,b,0.5\nc,d,high\ne,f,nan\n"
    project = _project(tmp_path / "csv", "scored.csv", csv)
    errors = validate_project(project).errors
    assert [(e.line, e.field) for e in errors] == [(3, "score"), (4, "score")]
    assert "'high'" in errors[0].message


def test_chat_rows_in_an_embedding_project_are_one_file_error(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}] * 3
    errors = validate_project(_project(tmp_path, "chat.jsonl", _jsonl(rows))).errors
    assert len(errors) == 1 and errors[0].line == 0 and "objective.task is embedding" in errors[0].message


def test_no_held_out_query_or_near_duplicate_of_it_is_trained_on(tmp_path):
    rows = []
    for t in range(30):
        doc = f"Document {t}: the policy on subject {t * 37 % 101} explained in full."
        base = f"how does the subject number {t * 37 % 101} policy work for customers"
        # the same query with a second document, and a near-duplicate rewording of it
        rows += [{"query": base, "positive": doc}, {"query": base, "positive": doc + " (continued)"},
                 {"query": base + " please", "positive": doc},
                 {"query": f"totally different words {t} zebra", "positive": doc}]
    project = _project(tmp_path, "pairs.jsonl", _jsonl(rows), test_share=0.3, validation_share=0.1)
    dataset = prepare(project)
    splits = {name: dataset.split(name) for name in ("train", "validation", "test")}
    assert sum(len(v) for v in splits.values()) == len(rows)  # nothing dropped as a duplicate
    train_queries = {r["query"] for r in splits["train"]}
    for record in splits["test"] + splits["validation"]:
        stem = record["query"].removesuffix(" please")
        assert stem not in train_queries and stem + " please" not in train_queries
    # documents may be shared: a held-out query's document is trained on with other queries
    assert {r["positive"] for r in splits["test"]} & {r["positive"] for r in splits["train"]}


def test_split_by_document_keeps_each_document_in_one_split(tmp_path):
    rows = [{"query": f"query {i} word{i * 13 % 97} zz{i}", "positive": f"doc {i % 10} text"} for i in range(60)]
    project = _project(tmp_path, "pairs.jsonl", _jsonl(rows), test_share=0.3, validation_share=0)
    project.config.embedding.split_by = "document"
    dataset = prepare(project)
    train_docs = {r["positive"] for r in dataset.split("train")}
    test_docs = {r["positive"] for r in dataset.split("test")}
    assert test_docs and not train_docs & test_docs


def test_plan_refuses_embedding_projects_in_one_line():
    import pytest

    from tunesmith.errors import TunesmithError
    from tunesmith.plan.record import token_counts

    config = ProjectConfig.model_validate({"objective": {"task": "embedding"}})
    with pytest.raises(TunesmithError, match="does not model embedding training"):
        token_counts(config, [{"query": "q", "positive": "d"}])


def test_embedding_records_round_trip_through_their_source_formats():
    from tunesmith.data.export import to_format
    from tunesmith.data.formats import convert

    for row, fmt in (({"query": "q", "positive": "d", "negative": "n"}, "query_positive"),
                     ({"sentence1": "a", "sentence2": "b", "score": 0.25}, "sentence_pair_score")):
        record, issues = convert(row, fmt, "embedding", "f.jsonl", 1)
        assert issues == [] and to_format(record, fmt) == row


def test_prepare_mines_hard_negatives_with_the_base_encoder(tmp_path, tiny_encoder_dir):
    import numpy as np

    from tunesmith.embeddings.load import base_encoder

    rows = [{"query": f"question {i} about item{i}", "positive": f"document {i % 8} on topic{i % 8}"}
            for i in range(24)]
    project = _project(tmp_path, "pairs.jsonl", _jsonl(rows), test_share=0, validation_share=0)
    project.config.model.name = str(tiny_encoder_dir)
    project.config.embedding.hard_negatives = 2
    train = prepare(project).split("train")
    assert len(train) == 48 and all(r["negative"] and r["negative"] != r["positive"] for r in train)
    corpus = sorted({r["positive"] for r in rows})
    encoder = base_encoder(tiny_encoder_dir)
    first = train[0]
    scores = encoder.encode([first["query"]]) @ encoder.encode(corpus).T
    best_wrong = [corpus[i] for i in np.argsort(-scores[0]) if corpus[i] != first["positive"]][:2]
    assert sorted(r["negative"] for r in train if r["query"] == first["query"]) == sorted(best_wrong)


def test_init_writes_an_embedding_project(tmp_path):
    import subprocess
    import sys

    from tunesmith.config import load_config

    result = subprocess.run([sys.executable, "-m", "tunesmith", "init", str(tmp_path / "faq"), "--task", "embedding",
                             "--description", "Find the FAQ entry", "--users", "", "--expected-output", ""],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config = load_config(tmp_path / "faq")
    assert config.objective.task == "embedding" and config.model.name == "minilm-l6"
