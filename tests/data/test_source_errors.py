"""Whole-file and parser-level problems (issue 14): each is reported once, the same by validate and
prepare, and no row vanishes unmentioned."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data import prepare
from tunesmith.data.validate import validate_project, validate_sources
from tunesmith.errors import TunesmithError

GOOD = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}


def chat(i: int, text: str = "") -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"question {i} {text}"},
                                    {"role": "assistant", "content": f"answer {i} {text}"}]}, ensure_ascii=False)


def pairs_csv(n: int, broken_row: int, broken: str) -> str:
    rows = ["prompt,completion", *(f"q{i} about {i * 7},a{i} is {i * 13}" for i in range(1, n + 1))]
    rows[broken_row] = broken
    return "\n".join(rows) + "\n"


def errors_of(project):
    return [(i.file, i.line, i.message) for i in validate_project(project).errors]


# 7: an unterminated quote swallowed the rest of the file into one field
def test_unterminated_csv_quote_names_every_swallowed_line(make_project):
    text = pairs_csv(60, 11, '"q11 unterminated,a11')  # data row 11 sits on line 12
    project = make_project({"sources": [{"path": "d.csv"}]}, files={"d.csv": text})
    result = validate_project(project)
    assert result.records == 10
    assert [(i.line, i.message) for i in result.errors] == [
        (12, "unterminated quote: lines 12-61 (50 lines) to the end of the file could not be read as rows")]
    dataset = prepare(project)  # strict: false says what was lost and where ...
    assert [e["message"] for e in dataset.manifest["errors"]] == [result.errors[0].message]
    reject = json.loads(dataset.rejects_path.read_text())
    assert reject["line"] == 12 and "q60 about 420" in reject["row"]  # ... and keeps the text
    project.config.data.strict = True  # strict: true fails with it
    with pytest.raises(TunesmithError, match=r"d\.csv:12: unterminated quote: lines 12-61"):
        prepare(project)


def test_a_quote_closed_on_a_later_line_is_an_error_not_a_silently_merged_row(make_project):
    text = pairs_csv(60, 11, '"q11 unterminated,"a11"').replace("q12 about 84,a12 is 156", '"q12","a12"')
    project = make_project({"sources": [{"path": "d.csv"}]}, files={"d.csv": text})
    result = validate_project(project)
    assert result.records + result.error_count == 60  # every row is a record or an error
    assert [(i.line, i.message.split(":")[0]) for i in result.errors] == [
        (12, "malformed quoting (',' expected after '\"')")]


# 8: a record far over the limit is reported and never held in memory whole
@pytest.mark.parametrize("container", ["jsonl", "csv", "txt"])
def test_oversize_record_is_reported_without_reading_it(make_project, container):
    giant = "x" * 12_000_000
    if container == "jsonl":
        content = "\n".join([chat(1), chat(2), chat(3, giant), chat(4)]) + "\n"
        line, size = 3, len(chat(3, giant)) + 1
    elif container == "csv":
        content = f"prompt,completion\nq1,a1\nq2,{giant}\nq3,a3\n"
        line, size = 3, len(giant) + 4
    else:
        content, line, size = giant, 1, len(giant)
    task = "text" if container == "txt" else "chat"
    project = make_project({"sources": [{"path": f"big.{container}"}]}, task=task,
                           files={f"big.{container}": content})
    del content, giant
    tracemalloc.start()
    try:
        result = validate_project(project)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(i.file, i.line, i.message) for i in result.errors] == [
        (f"big.{container}", line, "record longer than data.max_record_bytes (1,000,000)")]
    assert f"This one has {size:,} bytes" in result.errors[0].hint
    assert peak < 4_000_000  # a few times the limit, far below the 12 MB line
    assert DataConfig().max_record_bytes == 1_000_000  # the schema's default, named in the message


def test_record_limit_is_configurable(make_project):
    project = make_project({"max_record_bytes": 2048, "sources": [{"path": "c.jsonl"}]},
                           files={"c.jsonl": chat(1) + "\n" + chat(2, "y" * 3000) + "\n"})
    assert errors_of(project) == [("c.jsonl", 2, "record longer than data.max_record_bytes (2,048)")]


# 10: a symbolic link loop: one line, the same from validate and prepare
def test_symlink_loop_is_one_line_in_validate_and_prepare(make_project, tmp_path):
    project = make_project({"sources": [{"path": "loop.jsonl"}]})
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    assert errors_of(project) == [("loop.jsonl", 0, "is a symbolic link that loops back on itself")]
    with pytest.raises(TunesmithError) as err:
        prepare(project)
    assert err.value.message == "loop.jsonl: is a symbolic link that loops back on itself"


# 12: a folder reads every data file in it; an empty source is an error
def test_folder_reads_every_data_file_with_its_own_line_numbers(make_project):
    files = {"folder/a.jsonl": chat(1) + "\n" + chat(2) + "\n",
             "folder/sub/b.jsonl": chat(3) + "\n" + json.dumps({"messages": "oops"}) + "\n",
             "folder/c.csv": "prompt,completion\nq4,a4\n",
             "folder/notes.xlsx": "not data", "folder/.hidden.jsonl": "ignored"}
    project = make_project({"sources": [{"path": "folder"}]}, files={k: v for k, v in files.items()})
    result = validate_project(project)
    assert result.records == 4
    assert [(i.file, i.line, i.severity) for i in result.issues] == [
        ("folder", 0, "warning"), ("folder/sub/b.jsonl", 2, "error")]
    assert "notes.xlsx" in result.issues[0].message
    dataset = prepare(project)
    assert dataset.manifest["sources"][0]["records"] == 4
    assert dataset.manifest["sources"][0]["format"] == "openai+prompt_completion"


@pytest.mark.parametrize(("files", "path", "message"), [
    ({"e.jsonl": ""}, "e.jsonl", "has no records"),
    ({"e.jsonl": "\n\n  \n"}, "e.jsonl", "has no records"),
    ({"e.csv": "prompt,completion\n"}, "e.csv", "has no records"),
    ({"e.json": "[]"}, "e.json", "has no records"),
    ({"d/x.xlsx": "?"}, "d", "is a folder with no data files"),
])
def test_an_empty_source_is_an_error(make_project, files, path, message):
    project = make_project({"sources": [{"path": path}]}, files=files)
    assert errors_of(project) == [(path, 0, message)]
    with pytest.raises(TunesmithError, match=message):
        prepare(project)


# 13: encodings are settled once per file
def test_utf16_with_a_byte_order_mark_is_read(make_project):
    text = "".join(chat(i, "café") + "\n" for i in range(5))
    project = make_project({"sources": [{"path": "u16.jsonl"}]}, files={"u16.jsonl": text.encode("utf-16")})
    result = validate_project(project)
    assert result.records == 5 and not result.errors
    assert [(i.severity, i.message) for i in result.issues] == [
        ("info", "read as UTF-16 (the file starts with its byte-order mark)")]
    assert "café" in prepare(project).split("train")[0]["messages"][0]["content"]


@pytest.mark.parametrize(("codec", "suffix"), [("latin1", "jsonl"), ("cp1252", "csv")])
def test_a_file_in_another_encoding_is_one_error_naming_the_option(make_project, codec, suffix):
    if suffix == "jsonl":
        text = "".join(chat(i, "café") + "\n" for i in range(5000))
    else:
        text = "prompt,completion\n" + "".join(f"q{i} café,a{i} “quoted”\n" for i in range(5000))
    name = f"legacy.{suffix}"
    project = make_project({"sources": [{"path": name}]}, files={name: text.encode(codec)})
    result = validate_project(project)
    assert len(result.issues) == 1 and result.error_count == 1
    issue = result.errors[0]
    assert (issue.file, issue.line) == (name, 0) and f"it looks like {codec}" in issue.message
    assert f"encoding: {codec}" in issue.hint and f"iconv -f {codec} -t utf-8 {name}" in issue.hint
    with pytest.raises(TunesmithError, match=f"looks like {codec}"):
        prepare(project)
    project.config.data.sources[0].encoding = codec  # the option the error names
    result = validate_project(project)
    assert result.records == 5000 and not result.issues


def test_utf16_without_a_byte_order_mark_is_one_error(make_project):
    text = "".join(chat(i) + "\n" for i in range(100))
    project = make_project({"sources": [{"path": "u.jsonl"}]}, files={"u.jsonl": text.encode("utf-16-le")})
    (issue,) = validate_project(project).issues
    assert issue.line == 0 and "UTF-16-LE without a byte-order mark" in issue.message
    assert "encoding: utf-16-le" in issue.hint


def test_unknown_encoding_names_are_refused_by_the_schema():
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        SourceConfig(path="x.csv", encoding="klingon")


# 15: a source outside the project folder is refused unless allowed, and then named
def test_sources_outside_the_project_are_refused_unless_allowed(make_project, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jsonl"
    outside.write_text(chat(1) + "\n", encoding="utf-8")
    project = make_project({"sources": [{"path": f"../{outside.name}"}]})
    (issue,) = validate_project(project).errors
    assert issue.message == f"is outside the project folder {tmp_path.resolve()}"
    assert "allow_outside: true" in issue.hint
    with pytest.raises(TunesmithError, match="is outside the project folder"):
        prepare(project)
    project.config.data.sources[0].allow_outside = True
    result = validate_project(project)
    assert result.records == 1
    assert [(i.severity, i.message) for i in result.issues] == [
        ("info", f"read from outside the project folder: {outside.resolve()}")]
    assert prepare(project).manifest["sources"][0]["records"] == 1


def test_validate_and_prepare_fail_on_the_same_whole_file_problems(make_project, tmp_path):
    files = {"ok.jsonl": chat(1) + "\n", "latin.jsonl": (chat(2, "é") + "\n").encode("latin1"), "e.jsonl": ""}
    project = make_project({"sources": [{"path": name} for name in files]}, files=files)
    result = validate_sources(project.root, [(project.source_path(s.path), s) for s in project.config.data.sources],
                              project.config.data, "chat")
    assert result.records == 1  # validate lists both broken files and reads the good one
    assert [(i.file, i.line) for i in result.errors] == [("e.jsonl", 0), ("latin.jsonl", 0)]
    with pytest.raises(TunesmithError) as err:
        prepare(project)
    assert err.value.message == f"latin.jsonl: {result.errors[1].message}"
