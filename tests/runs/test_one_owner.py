"""Grep-level: only tunesmith.runs spells the run folder's file names or walks up from a run to its project."""

from __future__ import annotations

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tunesmith"
# A file name of the run folder as a string literal (prose in docstrings and comments may mention them).
FILE_NAME = re.compile(r"""["'](run\.json|config\.yaml|metrics\.jsonl)["']""")
PARENT_WALK = re.compile(r"\.parent\.parent\b|\.parents\[1\]")
WRITERS: dict[str, set[str]] = {}  # modules allowed an exception (none today: train/run.py writes through RUN_FILE)


def offenders() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("runs/"):
            continue
        allowed = WRITERS.get(relative, set())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            hits = [m.group(1) for m in FILE_NAME.finditer(line)] + [m.group(0) for m in PARENT_WALK.finditer(line)]
            found += [f"{relative}:{number}: {hit}" for hit in hits if hit not in allowed]
    return found


def test_no_module_outside_the_run_contract_reads_run_files_or_walks_up_to_a_project():
    assert offenders() == []


def test_the_check_finds_what_it_forbids(tmp_path, monkeypatch):
    module = tmp_path / "tunesmith" / "reader.py"
    module.parent.mkdir()
    module.write_text('info = json.loads((run_dir / "run.json").read_text())\nroot = run_dir.parent.parent\n')
    monkeypatch.setattr(sys.modules[__name__], "SRC", module.parent)
    assert offenders() == ["reader.py:1: run.json", "reader.py:2: .parent.parent"]
