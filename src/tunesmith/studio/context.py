"""What every page shares: the project folder, lazy access to the Python API, and error reporting."""

from __future__ import annotations

import functools
import importlib
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from tunesmith.config import PROJECT_FILE
from tunesmith.errors import TunesmithError
from tunesmith.project import RUNS_DIR, Project
from tunesmith.runs import RunFolder

NO_PROJECT_YET = "**No project yet.** Start on the **Objective** page."  # the empty state of pages after it


class ApiNotReady(TunesmithError):
    """A page needs a part of the Python API that this installation does not have yet."""


def api(module: str, name: str) -> Any:
    """`tunesmith.<module>.<name>`, imported when first used so the studio starts without it."""
    try:
        return getattr(importlib.import_module(f"tunesmith.{module}"), name)
    except (ImportError, AttributeError):
        raise ApiNotReady(f"this step needs tunesmith.{module}.{name}, which this installation does not have yet.",
                          "Update tunesmith, or use the CLI for this step.") from None


def api_ready(module: str, name: str) -> bool:
    try:
        api(module, name)
    except ApiNotReady:
        return False
    return True


@dataclass
class StudioContext:
    root: Path

    @property
    def project_file(self) -> Path:
        return self.root / PROJECT_FILE

    def has_project(self) -> bool:
        return self.project_file.exists()

    def project(self) -> Project:
        if not self.has_project():
            raise TunesmithError(f"no {PROJECT_FILE} in {self.root} yet.",
                                 "Answer the questions on the Objective page and press 'Write tunesmith.yaml'.")
        return Project.load(self.root)

    def dataset_versions(self) -> list[str]:
        """Prepared dataset versions, newest first (folders under data/ with a manifest.json)."""
        data = self.root / "data"
        found = [p for p in data.glob("*/manifest.json")] if data.is_dir() else []
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.parent.name for p in found]

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR

    def run_folder(self, name: str) -> RunFolder:
        return RunFolder(self.runs_dir / name)

    def run_dirs(self) -> list[Path]:
        """Run folders, newest first (a run just started, with nothing written yet, too)."""
        runs = self.runs_dir
        found = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")] if runs.is_dir() else []
        return sorted(found, key=lambda p: p.name, reverse=True)

    def finished_runs(self) -> list[str]:
        """Runs with a usable model (`RunInfo.finished`), newest first."""
        return [p.name for p in self.run_dirs() if RunFolder(p).finished]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def error_line(err: Exception) -> str:
    if isinstance(err, TunesmithError):
        return f"**Problem:** {err.message}" + (f"  \n**What to do:** {err.hint}" if err.hint else "")
    return f"**Unexpected error:** {type(err).__name__}: {err}. Please report it with the terminal output."


def reports_errors(n_outputs: int) -> Callable:
    """Wrap a handler whose first output is a status Markdown: failures go there, other outputs stay."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as err:  # the UI must never die on a bad click; the message says what to do
                if not isinstance(err, TunesmithError):
                    traceback.print_exc()
                message = error_line(err)
                return message if n_outputs == 1 else (message, *[gr.skip()] * (n_outputs - 1))

        return handler

    return wrap
