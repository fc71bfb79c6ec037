"""What the Data page shows, computed by the data API: a dry-run check, the manifest, a token preview."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUE_HEADERS = ["file", "line", "field", "problem", "what to do", "severity"]


@dataclass
class SourceCheck:
    summary: str  # Markdown: one line per source with its detected format and counts
    issues: list[list]  # rows for the problems table
    errors: int


def check_sources(project) -> SourceCheck:
    """Read, detect, validate and clean every source without writing anything (prepare's first half)."""
    from tunesmith.data.ingest import Ingested, ingest

    sources = [(project.source_path(source.path), source) for source in project.config.data.sources]
    if not sources:
        return SourceCheck("No data files yet: upload one above.", [], 0)
    state = Ingested()
    for _ in ingest(project.root, sources, project.config.data, project.config.objective.task, state):
        pass
    lines = [f"- `{s.path}`: format **{s.format}** ({s.kind}), {s.rows} row(s), {s.records} usable, "
             f"{s.rejected} with problems" for s in state.sources]
    cleaned = {k: v for k, v in state.counts.items() if v}
    if cleaned:
        lines.append("- cleaning: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(cleaned.items())))
    issues = [[i.file, i.line, i.field, i.message, i.hint, i.severity] for i in [*state.errors, *state.warnings]]
    return SourceCheck("\n".join(lines), issues, state.errors.total)


def _table(mapping: dict[str, Any], headers: tuple[str, str]) -> str:
    rows = "\n".join(f"| {key.replace('_', ' ')} | {value} |" for key, value in mapping.items())
    return f"| {headers[0]} | {headers[1]} |\n|---|---|\n{rows}"


def manifest_markdown(dataset) -> str:
    """Split sizes, per-source formats, cleaning counts and warnings from the manifest."""
    manifest = dataset.manifest
    sizes = {name: len(dataset.split(name)) for name in ("train", "validation", "test")}
    parts = [f"#### Dataset version {dataset.version}", _table(sizes, ("part", "examples"))]
    sources = manifest.get("sources") or []
    if sources:
        parts.append("\n".join(f"- `{s.get('path')}`: format **{s.get('format')}**, {s.get('records')} record(s), "
                               f"{s.get('rejected', 0)} rejected" for s in sources))
    counts = manifest.get("counts") or {}
    if counts:
        parts += ["**Cleaning and de-duplication**", _table(counts, ("step", "examples"))]
    warnings = manifest.get("warnings") or []
    if warnings:
        parts += ["**Warnings**", "\n".join(f"- {w if isinstance(w, str) else w.get('message', w)}"
                                            for w in warnings[:20])]
    return "\n\n".join(parts)


def report_frame(path: Path | None, title: str, height: int = 640) -> str:
    """An HTML report from the project folder, served by Gradio's file route (allowed_paths)."""
    if not path or not Path(path).exists():
        return ""
    return (f'<iframe title="{title}" src="/gradio_api/file={path}" '
            f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:6px"></iframe>')


def preview_pieces(project, dataset, limit: int = 3) -> list[tuple[str, str | None]]:
    """Training examples as (text, "learned" | None) pieces for gr.HighlightedText."""
    records = dataset.split("train")[:limit]
    task = project.config.objective.task
    pieces: list[tuple[str, str | None]] = []
    if task == "classification":
        labels = Counter(r.get("label") for r in dataset.split("train"))
        for record in records:
            pieces += [(record.get("text", "") + "  →  ", None), (str(record.get("label")), "learned"), ("\n\n", None)]
        pieces.append(("examples per label in train: " + ", ".join(f"{label} {n}" for label, n in labels.most_common()),
                       None))
        return pieces
    if task == "text":
        for record in records:
            pieces += [(record.get("text", ""), "learned"), ("\n\n", None)]
        return pieces
    from tunesmith.models.catalog import resolve
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.train.encode import record_pieces

    tokenizer = load_tokenizer(resolve(project.config.model.name,
                                       trust_remote_code=project.config.model.trust_remote_code))
    for record in records:
        for text, trained in record_pieces(tokenizer, record):
            pieces.append((text, "learned" if trained else None))
        pieces.append(("\n\n", None))
    return pieces
