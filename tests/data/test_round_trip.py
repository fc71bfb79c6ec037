"""Round trips: canonical records -> every source format x container -> read back -> same records."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunesmith.config.data import SourceConfig
from tunesmith.data.export import to_format
from tunesmith.data.formats import convert, rename_columns
from tunesmith.data.ingest import source_rows
from tunesmith.data.readers import NO_VALUE

MULTI_TURN = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi, café?"},
                  {"role": "assistant", "content": "Hello!\nYes.", "weight": 0},
                  {"role": "user", "content": "Price, \"quoted\"?"}, {"role": "assistant", "content": "$3, 2 for $5"}]},
    {"messages": [{"role": "user", "content": "Tabs\tand, commas"}, {"role": "assistant", "content": "ok"}]},
]
SINGLE_TURN = [
    {"messages": [{"role": "user", "content": "What is 2+2?\nExplain."},
                  {"role": "assistant", "content": "4, \"four\""}]},
    {"messages": [{"role": "user", "content": "Ünïcode ✓"}, {"role": "assistant", "content": "yes\ttab"}]},
]
CLASSIFIED = [{"text": "great, fast bike", "label": "positive", "text_pair": "review"},
              {"text": "broke \"twice\"\nin a week", "label": "negative", "text_pair": "review"}]
RAW = [{"text": "Paragraph one.\n\nParagraph two, with commas."}, {"text": "Second document ✓"}]

CASES = {  # format -> (task, canonical records)
    "openai": ("chat", MULTI_TURN), "sharegpt": ("chat", [
        {"messages": [{k: v for k, v in m.items() if k != "weight"} for m in r["messages"]]} for r in MULTI_TURN]),
    "alpaca": ("chat", SINGLE_TURN), "prompt_completion": ("chat", SINGLE_TURN),
    "question_answer": ("chat", SINGLE_TURN), "input_output": ("chat", SINGLE_TURN),
    "text_label": ("classification", CLASSIFIED), "text": ("text", RAW),
}
FLAT = ("alpaca", "prompt_completion", "question_answer", "input_output", "text_label", "text")
CONTAINERS = ("jsonl", "json", "csv", "tsv", "parquet", "hf_dataset")


def write(rows: list[dict], folder, container: str):
    if container == "jsonl":
        path = folder / "data.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif container == "json":
        path = folder / "data.json"
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    elif container in ("csv", "tsv"):
        path = folder / f"data.{container}"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="," if container == "csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)
    elif container == "parquet":
        path = folder / "data.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        from datasets import Dataset

        path = folder / "hf"
        Dataset.from_list(rows).save_to_disk(str(path))
    return path


def read_back(path, fmt: str, task: str) -> list[dict]:
    rows = source_rows(path, SourceConfig(path=str(path)), path.name)
    assert rows.format == fmt
    out = []
    for row in rows:
        assert row.value is not NO_VALUE, row.issues
        record, issues = convert(rename_columns(row.value, {}), fmt, task, row.file, row.line)
        assert not issues, issues
        out.append({k: v for k, v in record.items() if k not in ("id", "meta")})
    return out


# CSV/TSV cells cannot hold nested conversations, so those two formats pair only with nested containers
PAIRS = [(fmt, container) for fmt in CASES for container in CONTAINERS
         if fmt in FLAT or container not in ("csv", "tsv")]


@pytest.mark.parametrize(("fmt", "container"), PAIRS)
def test_format_round_trip(tmp_path, fmt, container):
    task, records = CASES[fmt]
    path = write([to_format(r, fmt) for r in records], tmp_path, container)
    assert read_back(path, fmt, task) == records


def test_txt_folder_round_trip_with_labels_from_subfolders(tmp_path):
    for label, text in (("positive", "great bike\nreally"), ("negative", "broke twice")):
        (tmp_path / "reviews" / label).mkdir(parents=True)
        (tmp_path / "reviews" / label / "a.txt").write_text(text, encoding="utf-8")
    assert read_back(tmp_path / "reviews", "text_label", "classification") == [
        {"text": "broke twice", "label": "negative"}, {"text": "great bike\nreally", "label": "positive"}]
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "doc.txt").write_bytes(b"line one\r\nline two\r\n")
    assert read_back(tmp_path / "plain", "text", "text") == [{"text": "line one\nline two\n"}]


def test_meta_survives_openai_metadata_and_extra_columns():
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
           "metadata": {"facts": ["45 days"]}, "topic": "returns", "id": 7}
    record, issues = convert(row, "openai", "chat", "f", 1)
    assert not issues
    assert record["id"] == "7" and record["meta"] == {"facts": ["45 days"], "topic": "returns"}
    assert to_format(record, "openai")["metadata"] == {"facts": ["45 days"], "topic": "returns"}


def test_column_mapping_renames_custom_names():
    row = {"body": "slow delivery", "category": "shipping"}
    record, issues = convert(rename_columns(row, {"body": "text", "category": "label"}), "text_label",
                             "classification", "f", 1)
    assert not issues and (record["text"], record["label"]) == ("slow delivery", "shipping")


def test_json_object_layouts_and_dataset_dict(tmp_path):
    rows = [to_format(r, "text_label") for r in CLASSIFIED]
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": rows}), encoding="utf-8")
    assert read_back(tmp_path / "wrapped.json", "text_label", "classification") == CLASSIFIED
    (tmp_path / "keyed.json").write_text(json.dumps({"r1": rows[0], "r2": rows[1]}), encoding="utf-8")
    keyed = source_rows(tmp_path / "keyed.json", SourceConfig(path="keyed.json"), "keyed.json")
    assert keyed.format == "text_label" and [row.value["id"] for row in keyed] == ["r1", "r2"]
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(rows[:1]), "test": Dataset.from_list(rows[1:])}).save_to_disk(
        str(tmp_path / "hf_dict"))
    split_rows = source_rows(tmp_path / "hf_dict", SourceConfig(path="hf_dict"), "hf_dict")
    assert split_rows.format == "text_label"
    assert [(row.file, row.line) for row in split_rows] == [("hf_dict[train]", 1), ("hf_dict[test]", 1)]
