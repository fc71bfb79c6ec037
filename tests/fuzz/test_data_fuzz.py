"""Fuzzing `tunesmith data validate` and `prepare` with random bytes, JSON lines, CSV dialects and
encodings written as source files.

Properties: the exit code is 0 or 2, never a traceback; never more error lines than input lines;
every line number reported exists in the file; prepare fails exactly when validate finds a whole-file
error, and otherwise keeps the rows validate accepts. Deterministic (derandomize) for CI; set
TUNESMITH_FUZZ_EXAMPLES (e.g. 2000) for a longer run. Every defect found is an @example below.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import typer
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tunesmith.cli import _register_commands, app
from tunesmith.errors import TunesmithError

runner = CliRunner()
_register_commands()
_COMMAND = typer.main.get_command(app)  # built once: building it takes 3x longer than a validate

_LONG_RUN = int(os.environ.get("TUNESMITH_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int):
    return settings(max_examples=_LONG_RUN or examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


SUFFIXES = [".jsonl", ".csv", ".tsv", ".json", ".txt"]
TASKS = ["chat", "classification", "text"]
KEYS = ["messages", "conversations", "role", "content", "from", "value", "prompt", "completion", "text", "label",
        "instruction", "output", "input", "question", "answer", "chosen", "rejected", "id", "meta", "metadata",
        "system", "weight", "category", "intent"]
ROLES = ["user", "assistant", "system", "human", "gpt", "bot", "[/]", "[red]x", ":100:"]
CODECS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin1", "cp1252"]

# -- strategies -------------------------------------------------------------------------------------

texts = st.one_of(st.text(max_size=40), st.sampled_from(ROLES), st.sampled_from(KEYS),
                  st.text(alphabet='",;|\t\n\r\\[]:/ ab\u00e9\u201c', max_size=20))
leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True), texts)
json_values = st.recursive(
    leaves, lambda children: st.one_of(st.lists(children, max_size=4),
                                       st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)),
                                                       children, max_size=5)), max_leaves=25)
messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": texts}), max_size=4)
records = st.one_of(
    st.fixed_dictionaries({"messages": messages}),
    st.fixed_dictionaries({"prompt": texts, "completion": texts}),
    st.fixed_dictionaries({"text": texts, "label": st.one_of(texts, st.integers(0, 3))}),
    st.fixed_dictionaries({"text": texts}),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4),
    json_values)


words = st.text(alphabet="abcdefghij klmnopqrstuvwxyzé中.,?!'\"", min_size=1, max_size=30).filter(str.strip)
valid_records = st.one_of(  # rows that should become records, so prepare's success path runs too
    st.builds(lambda q, a: {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
              words, words),
    st.fixed_dictionaries({"prompt": words, "completion": words}),
    st.fixed_dictionaries({"text": words, "label": st.sampled_from(["a", "b", "c"])}),
    st.fixed_dictionaries({"text": words}))
GOOD_HEADERS = [["prompt", "completion"], ["text", "label"], ["text"], ["text", "category"], ["instruction", "output"]]


def _json_line(value, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)  # NaN/Infinity: valid for json.loads, not for orjson


@st.composite
def jsonl_files(draw) -> tuple[str, str]:
    line = st.one_of(st.builds(_json_line, records, st.booleans()), texts, st.just(""))
    good = st.builds(_json_line, valid_records, st.booleans())
    lines = draw(st.lists(st.one_of(good, good, good, line), max_size=30))
    separator = draw(st.sampled_from(["\n", "\r\n"]))
    text = separator.join(lines) + draw(st.sampled_from(["", separator]))
    if draw(st.booleans()) and draw(st.booleans()):
        return ".json", json.dumps(draw(st.one_of(st.lists(records, max_size=8), records)),
                                   indent=draw(st.sampled_from([None, 1])))
    return ".jsonl", text


@st.composite
def csv_files(draw) -> tuple[str, str]:
    header = draw(st.one_of(st.sampled_from(GOOD_HEADERS), st.lists(
        st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), min_size=1, max_size=4, unique=True)))
    width = st.integers(0, len(header) + 1)
    cells = st.one_of(words, words, texts)
    rows = draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header) + 1), max_size=25))
    rows = [row[:draw(width)] if draw(st.booleans()) and draw(st.booleans()) else
            (row + [""] * len(header))[:len(header)] for row in rows]
    delimiter = draw(st.sampled_from([",", "\t", ";", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, escapechar="\\",
                        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    for row in [header, *rows]:
        try:
            writer.writerow(row)
        except csv.Error:  # QUOTE_NONE cannot write some fields: leave the row out
            continue
    text = buffer.getvalue()
    for _ in range(draw(st.integers(0, 2))):  # break the quoting here and there
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "", "\n"])) + text[at + 1:]
    return (".tsv" if delimiter == "\t" else ".csv"), text


# -- running ----------------------------------------------------------------------------------------

def write_project(folder: Path, suffix: str, data: bytes, task: str, options: dict | None = None) -> Path:
    source = {"path": f"data{suffix}", **(options or {})}
    (folder / f"data{suffix}").write_bytes(data)
    (folder / "tunesmith.yaml").write_text(json.dumps(
        {"name": "fuzz", "objective": {"task": task}, "data": {"sources": [source]}}), encoding="utf-8")
    return folder


def validate_cli(folder: Path) -> tuple[int, str]:
    with mock.patch("typer.testing._get_command", lambda _: _COMMAND):
        result = runner.invoke(app, ["data", "validate", str(folder), "--limit", "100000"])
    if isinstance(result.exception, TunesmithError):  # main() prints it as one line and exits 2
        assert "\n" not in str(result.exception)
        return 2, result.output + f"error: {result.exception}\n"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails with it
    return result.exit_code, result.output


_ISSUE = re.compile(r"^(error|warning|info) data\.\w+(?::(\d+))?: ")
_REPEATS = re.compile(r"\(on [\d,]+ lines: ([\d, ]+?)(?:, …)?\)")
_SPANS = re.compile(r"(?:unterminated quote|malformed quoting \(.*?\)): lines? (\d+)(?:-(\d+))?")


def input_lines(data: bytes) -> int:
    return max(data.count(b"\n"), data.count(b"\r")) + 1


def check_report(code: int, output: str, data: bytes) -> None:
    assert code in (0, 2), output
    assert "Traceback" not in output
    lines = input_lines(data)
    issue_lines = [line for line in output.splitlines() if _ISSUE.match(line)]
    errors = [line for line in issue_lines if line.startswith("error ")]
    assert len(errors) <= max(1, lines), output
    assert (code == 2) == bool(errors or "error: " in output), output
    for line in issue_lines:
        numbers = [int(_ISSUE.match(line).group(2) or 1)]
        numbers += [int(n) for found in _REPEATS.findall(line) for n in found.split(", ")]
        numbers += [int(n) for span in _SPANS.findall(line) for n in span if n]
        assert all(1 <= n <= lines for n in numbers), (numbers, lines, line)


def check_file(suffix: str, data: bytes, task: str, options: dict | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        code, output = validate_cli(write_project(Path(folder), suffix, data, task, options))
        check_report(code, output, data)


# -- the fuzz tests ---------------------------------------------------------------------------------

@fuzz(150)
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=600), task=st.sampled_from(TASKS))
@example(suffix=".jsonl", data=b"[" * 5000 + b"\n", task="chat")  # json.loads recursion
@example(suffix=".json", data=b"[" * 5000, task="chat")
@example(suffix=".csv", data=b"a,a\n1,2\n", task="chat")  # duplicate columns
@example(suffix=".csv", data=b'"a\n', task="chat")  # header never closes
@example(suffix=".csv", data=b"a\x90,b\n1,caf\xc3\xa9\n", task="chat")  # a non-UTF-8 header crashed printing
def test_random_bytes(suffix, data, task):
    check_file(suffix, data, task)


@fuzz(150)
@given(file=jsonl_files(), task=st.sampled_from(TASKS))
@example(file=(".jsonl", '{"\\udc90": 1}\n'), task="chat")  # a lone surrogate escape crashed printing
@example(file=(".json", '[{"text": "\\ud800", "label": "a"}]'), task="classification")
def test_random_json_lines(file, task):
    suffix, text = file
    check_file(suffix, text.encode("utf-8", "surrogatepass"), task)


@fuzz(150)
@given(file=csv_files(), task=st.sampled_from(TASKS))
def test_random_csv_dialects(file, task):
    suffix, text = file
    check_file(suffix, text.encode("utf-8", "surrogatepass"), task)


@fuzz(100)
@given(file=st.one_of(jsonl_files(), csv_files()), task=st.sampled_from(TASKS), codec=st.sampled_from(CODECS),
       declared=st.sampled_from(["auto", "same", "latin1", "utf-16"]))
@example(file=(".jsonl", "{}\n"), task="chat", codec="utf-8", declared="utf-16")  # UnicodeError, not ...DecodeError
@example(file=(".jsonl", '{"messages": []}\r\n'), task="chat", codec="utf-16", declared="latin1")  # \r split lines
@example(file=(".jsonl", '{"messages": []}\r\n'), task="chat", codec="utf-16", declared="same")
def test_random_encodings(file, task, codec, declared):
    suffix, text = file
    encoding = codec if declared == "same" else declared
    check_file(suffix, text.encode(codec, "replace"), task, {"encoding": encoding})


@fuzz(40)
@given(file=st.one_of(jsonl_files(), csv_files()), task=st.sampled_from(TASKS), strict=st.booleans())
@example(file=(".csv", "prompt,completion\n?,?\n?,?\n?,[/]\n"), task="classification", strict=False)  # markup
@example(file=(".csv", "text,label\n\u4e2d one,\u4e2d\n\u4e2d two,\t\n"), task="classification", strict=False)  # glyphs
def test_prepare_agrees_with_validate(file, task, strict):
    """prepare reads through the same path: it fails on whole-file errors (and in strict mode on any
    error) exactly when validate reports them, and otherwise keeps every row validate accepts."""
    from tunesmith.data import prepare
    from tunesmith.data.validate import validate_project
    from tunesmith.project import Project

    suffix, text = file
    with tempfile.TemporaryDirectory() as folder:
        write_project(Path(folder), suffix, text.encode("utf-8", "surrogatepass"), task)
        project = Project.load(Path(folder))
        project.config.data.strict = strict
        result = validate_project(project)
        whole_file = any(issue.line == 0 for issue in result.errors)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                dataset = prepare(project)
        except TunesmithError as err:
            event("prepare refused")
            assert whole_file or result.records == 0 or (strict and result.errors), str(err)
            return
        event("prepared")
        assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
        assert not whole_file and not (strict and result.errors)
        counts = dataset.manifest["counts"]
        assert counts["read"] - counts.get("rejected", 0) == result.records


def test_the_installed_command_never_shows_a_traceback(tmp_path):
    """Two runs of the real `tunesmith` entry point (main() maps errors to exit 2)."""
    for suffix, data in ((".jsonl", bytes(range(256)) * 4), (".csv", b'text,label\n"a,b\nc\n')):
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        write_project(folder, suffix, data, "classification")
        for command in ("validate", "prepare"):
            done = subprocess.run([sys.executable, "-c", "from tunesmith.cli import main; main()", "data", command,
                                   str(folder), *(["--no-tokenizer"] if command == "prepare" else [])],
                                  capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
            assert done.returncode in (0, 2), done.stderr
            assert "Traceback" not in done.stdout + done.stderr
