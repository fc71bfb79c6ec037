"""Whether a file's format can train the project's task, decided once per file (not once per row).

A classification project whose table has `text` and one plausibly named label column (category,
intent, class, ...) uses that column and says so; any other mismatch is one error naming the columns
found and the `columns:` mapping to add.
"""

from __future__ import annotations

from typing import Any

from tunesmith.data.formats import FORMATS, task_misfit
from tunesmith.data.issues import Issue, SourceError

LABEL_NAMES = ("label", "labels", "category", "categories", "class", "intent", "target", "sentiment", "tag",
               "topic", "y")


def _columns(values: list[Any]) -> list[str]:
    return sorted({str(key) for value in values if isinstance(value, dict) for key in value})


def fit_task(fmt: str, task: str, values: list[Any], columns: dict[str, str],
             name: str) -> tuple[str, dict[str, str], list[Issue]]:
    """(format, column mapping, notes) for a file whose sample rows (renamed) are `values`."""
    problem = task_misfit(fmt, task)
    if problem is None:
        return fmt, columns, []
    found = _columns(values)
    shown = ", ".join(found[:12]) + (", …" if len(found) > 12 else "")
    hint = "Set objective.task to match the data, or map your columns in data.sources[].columns."
    if task == "classification" and fmt == "text":
        candidates = [key for key in found if key.lower() in LABEL_NAMES and key not in columns.values()]
        if len(candidates) == 1:
            column = candidates[0]
            return "text_label", {**columns, column: "label"}, [Issue(
                name, 0, "", f"using column '{column}' as the label (objective.task is classification)",
                f"To say so explicitly, add columns: {{{column}: label}} to this source in data.sources.", "info")]
        example = candidates[0] if candidates else next((k for k in found if k != "text"), "<label column>")
        hint = (f"Add columns: {{{example}: label}} to this source in data.sources"
                + (f" (or one of {', '.join(candidates[1:])})" if len(candidates) > 1 else "")
                + ", or set objective.task to match the data.")
    elif task == "chat" and fmt in ("text", "text_label"):
        hint = ("Map the question and answer columns, e.g. columns: {text: prompt, <answer column>: completion}, "
                "or set objective.task: classification (text + label) or text.")
    raise SourceError(name, f"{problem}; columns found: {shown or 'none'}", hint)


def undetected(values: list[Any], name: str) -> SourceError:
    """The error for a file whose rows match no known format."""
    found = _columns(values)
    shown = ", ".join(found[:12]) + (", …" if len(found) > 12 else "")
    example = (f"e.g. columns: {{{found[0]}: text}}" if found else "e.g. columns: {body: text, category: label}")
    return SourceError(name, f"cannot tell the format (columns: {shown or 'none'})",
                       f"Set data.sources[].format to one of {', '.join(FORMATS)}, or map your column names "
                       f"with data.sources[].columns, {example}.")
