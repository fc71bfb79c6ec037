"""What the Data page shows, computed from the data API: per-file checks, the manifest, a token preview."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.studio.context import api


@dataclass
class SourceReport:
    summary: str
    issues: list = field(default_factory=list)


def check_source(path: Path, declared_format: str = "auto") -> SourceReport:
    """Read every row of one source and collect its problems (nothing is written)."""
    if not path.exists():
        from tunesmith.data.issues import Issue

        missing = Issue(str(path), 0, "", "file not found", "Upload it again or fix data.sources in tunesmith.yaml.")
        return SourceReport("missing", [missing])
    rows, issues = 0, []
    for row in api("data", "read_source")(path, name=path.name):
        issues.extend(row.issues)
        rows += row.value is not None
    fmt = _detected_format(path, declared_format)
    errors = sum(1 for issue in issues if issue.severity == "error")
    return SourceReport(f"{rows} readable row(s), format **{fmt}**, {errors} error(s)", issues)


def _detected_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    try:
        return str(api("data", "detect_format")(path))
    except Exception:  # detection is informative here; prepare reports real failures
        return "auto (detected when preparing)"


def _table(mapping: dict[str, Any]) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in mapping.items())
    return f"| | |\n|---|---|\n{rows}"


def manifest_markdown(dataset) -> str:
    """Split sizes, cleaning counts and quality notes from the manifest, whatever its nesting."""
    manifest = dataset.manifest if isinstance(dataset.manifest, dict) else dict(dataset.manifest)
    sizes = {name: len(dataset.split(name)) for name in ("train", "validation", "test")}
    parts = [f"#### Dataset {dataset.version}", _table(sizes)]
    for key, value in manifest.items():
        if isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values()):
            parts += [f"**{key.replace('_', ' ')}**", _table(value)]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            parts += [f"**{key.replace('_', ' ')}**", "\n".join(f"- {v}" for v in value[:20])]
    return "\n\n".join(parts)


def preview_pieces(project, dataset, limit: int = 3) -> list[tuple[str, str | None]]:
    """Training examples as (text, "learned" | None) pieces for gr.HighlightedText."""
    records = dataset.split("train")[:limit]
    task = project.config.objective.task
    pieces: list[tuple[str, str | None]] = []
    if task == "classification":
        labels = Counter(r.get("label") for r in dataset.split("train"))
        for record in records:
            pieces += [(record.get("text", "") + "  →  ", None), (str(record.get("label")), "learned"), ("\n\n", None)]
        pieces.append((f"labels: {dict(labels)}", None))
        return pieces
    if task == "text":
        for record in records:
            pieces += [(record.get("text", ""), "learned"), ("\n\n", None)]
        return pieces
    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.train.encode import chat_pieces

    tokenizer = load_tokenizer(resolve(project.config.model.name))
    for record in records:
        for text, trained in chat_pieces(tokenizer, record["messages"]):
            pieces.append((text, "learned" if trained else None))
        pieces.append(("\n\n", None))
    return pieces
