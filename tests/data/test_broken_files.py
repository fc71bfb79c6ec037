"""A corpus of deliberately broken files, one per error kind, and the exact issues each must yield."""

from __future__ import annotations

import json

import pytest

from tunesmith.config.data import DataConfig, SourceConfig
from tunesmith.data import prepare
from tunesmith.data.validate import validate_sources
from tunesmith.errors import TunesmithError

GOOD = json.dumps({"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]})
GOOD_LABEL = json.dumps({"text": "great bike", "label": "positive"})


def chat(*messages) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in messages]})


# name -> (file bytes, task, expected [(line, field, message, severity)])
CORPUS = {
    "invalid_json.jsonl": (f'{GOOD}\n{{"messages": [\n'.encode(), "chat",
                           [(2, "", "invalid JSON: Expecting value at column 15", "error")]),
    "not_object.jsonl": (f"{GOOD}\n[1, 2]\n".encode(), "chat",
                         [(2, "", "expected a JSON object, got an array", "error")]),
    "missing_key.jsonl": (b'{"instruction": "Sum 2+2", "output": "4"}\n{"instruction": "Sum 3+3"}\n', "chat",
                          [(2, "output", "missing key 'output' (alpaca format)", "error")]),
    "unknown_key.jsonl": (f'{GOOD}\n{{"messages": [{{"role": "user", "content": "a", "speaker": "me"}}, '
                          f'{{"role": "assistant", "content": "b"}}]}}\n'.encode(), "chat",
                          [(2, "messages[0].speaker", "unknown key 'speaker'", "error")]),
    "unknown_keys_row.jsonl": (f'{GOOD}\n{{"body": "a", "reply": "b"}}\n'.encode(), "chat",
                               [(2, "", "unknown keys body, reply", "error")]),
    "wrong_type.jsonl": (f'{GOOD}\n{{"messages": [{{"role": "user", "content": "a"}}, '
                         f'{{"role": "assistant", "content": 42}}]}}\n'.encode(), "chat",
                         [(2, "messages[1].content", "expected a string, got a number", "error")]),
    "empty_content.jsonl": (f'{GOOD}\n{chat(("user", "   "), ("assistant", "b"))}\n'.encode(), "chat",
                            [(2, "messages[0].content", "empty content", "error")]),
    "unknown_role.jsonl": (f'{GOOD}\n{chat(("user", "a"), ("bot", "b"))}\n'.encode(), "chat",
                           [(2, "messages[1].role", "unknown role 'bot'", "error")]),
    "no_assistant.jsonl": (f'{GOOD}\n{chat(("system", "s"), ("user", "a"))}\n'.encode(), "chat",
                           [(2, "messages", "conversation has no assistant turn", "error")]),
    "empty_label.jsonl": (f'{GOOD_LABEL}\n{{"text": "meh", "label": " "}}\n'.encode(), "classification",
                          [(2, "label", "empty label", "error")]),
    "invalid_utf8.jsonl": (GOOD.replace("Hello", "Caf\u00e9").encode() + b'\n{"messages": [{"role": "user", "content": '
                           b'"caf\xe9"}]}\n', "chat", [(2, "", "invalid UTF-8", "error")]),
    "latin1.jsonl": (GOOD.encode() + b'\n{"messages": [{"role": "user", "content": "caf\xe9"}]}\n', "chat",
                     [(0, "", "is not UTF-8 (byte 0xe9 on line 2); it looks like latin1", "error")]),
    "lone_surrogate.jsonl": (f'{GOOD}\n{{"messages": [{{"role": "user", "content": "\\udc90"}}]}}\n'.encode(), "chat",
                             [(2, "", "invalid JSON: a \\u escape is half of a surrogate pair, not a character",
                               "error")]),
    "duplicate_column.csv": (b"prompt,prompt\nq,a\n", "chat",
                             [(0, "", "column 'prompt' appears twice in the header", "error")]),
    "header_not_utf8.csv": (b"pr\x90ompt,completion\nq,caf\xc3\xa9\n", "chat",
                            [(0, "", "the header row (line 1) is not valid UTF-8", "error")]),
    "bom.jsonl": (b"\xef\xbb\xbf" + f"{GOOD}\n".encode(), "chat",
                  [(1, "", "byte-order mark removed", "warning")]),
    "crlf.jsonl": (f"{GOOD}\r\n{GOOD.replace('Hi?', 'Hey?')}\r\n".encode(), "chat",
                   [(1, "", "Windows line endings (CRLF) converted", "warning")]),
    "blank_lines.jsonl": (f"{GOOD}\n\n{GOOD.replace('Hi?', 'Hey?')}\n  \n".encode(), "chat",
                          [(2, "", "2 blank line(s) skipped", "warning")]),
    "bad_columns.csv": (b'prompt,completion\n"Hi?","Hello."\n"a","b","c"\n', "chat",
                        [(3, "", "expected 2 columns, got 3", "error")]),
    "multiline_ok.csv": (b'prompt,completion\n"line one\nline two","fine"\n"x",""\n', "chat",
                         [(4, "completion", "empty content", "error")]),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_broken_file_yields_exactly_its_issues(tmp_path, name):
    content, task, expected = CORPUS[name]
    (tmp_path / name).write_bytes(content)
    result = validate_sources(tmp_path, [(tmp_path / name, SourceConfig(path=name))], DataConfig(), task)
    assert [(i.file, i.line, i.field, i.message, i.severity) for i in result.issues] == [
        (name, line, field, message, severity) for line, field, message, severity in expected]
    assert all(issue.hint for issue in result.issues)  # every issue says what to do


def test_strict_mode_lists_every_error_at_once(make_project):
    files = {name: CORPUS[name][0] for name in ("invalid_json.jsonl", "unknown_role.jsonl", "no_assistant.jsonl")}
    project = make_project({"strict": True, "sources": [{"path": name} for name in files]}, files=files)
    with pytest.raises(TunesmithError) as err:
        prepare(project)
    message = str(err.value)
    assert message.startswith("3 invalid record(s)")
    for fragment in ("invalid_json.jsonl:2: invalid JSON", "unknown_role.jsonl:2: messages[1].role: unknown role",
                     "no_assistant.jsonl:2: messages: conversation has no assistant turn"):
        assert fragment in message


def test_default_mode_skips_bad_rows_and_keeps_them_in_rejects(make_project):
    files = {name: CORPUS[name][0] for name in ("invalid_json.jsonl", "wrong_type.jsonl", "crlf.jsonl")}
    project = make_project({"sources": [{"path": name} for name in files]}, files=files)
    dataset = prepare(project)
    rejects = [json.loads(line) for line in dataset.rejects_path.read_text().splitlines()]
    assert [(r["file"], r["line"], r["field"]) for r in rejects] == [
        ("invalid_json.jsonl", 2, ""), ("wrong_type.jsonl", 2, "messages[1].content")]
    assert rejects[1]["row"]["messages"][1]["content"] == 42  # nothing is lost
    assert dataset.manifest["counts"]["rejected"] == 2
    source_warnings = [w["message"] for w in dataset.manifest["warnings"] if not w["field"].startswith("data.")]
    assert source_warnings == ["Windows line endings (CRLF) converted"]  # (data.* ones are about the tiny splits)
