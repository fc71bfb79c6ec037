"""Write `report.json` (stable, machine-readable) and `report.html` (self-contained, opens offline)."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

from tunesmith.config.evaluation import EvaluationConfig
from tunesmith.evaluate.advice import next_steps
from tunesmith.evaluate.diagnostics import _question, _reference, diagnose
from tunesmith.evaluate.summary import method_notes
from tunesmith.project import ensure_writable

SCHEMA_VERSION = 1
REPORT_JSON, REPORT_HTML = "report.json", "report.html"


def _finite(value):
    """NaN/inf become null so the file is strict JSON any parser accepts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def report_data(comparison, settings: EvaluationConfig) -> dict:
    """The report as plain data. Keys only get added, never renamed, within one schema_version."""
    results = {r.name: r for r in comparison.results}
    contenders = []
    for row in comparison.rows:
        entry = row.to_dict()
        result = results.get(row.name)
        entry["run_dir"] = str(result.run_dir) if result and result.run_dir else None
        entry["details"] = result.details if result else {}
        contenders.append(entry)
    items = [{"id": item.id, "question": _question(item), "reference": _reference(item),
              "outputs": {r.name: r.outputs[i] for r in comparison.results}}
             for i, item in enumerate(comparison.items)]
    return _finite({
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "task": comparison.task, "split": comparison.split, "n_items": len(comparison.items),
        "split_note": comparison.split_note, "caveat": comparison.caveat or None,
        "primary_metric": comparison.primary, "verdict": comparison.verdict,
        "settings": settings.model_dump(mode="json"),
        "contenders": contenders,
        "paired_tests": [t.to_dict() for t in comparison.tests],
        "interval_methods": method_notes(comparison.rows, comparison.tests),
        "diagnostics": comparison.diagnostics,
        "data": {key: comparison.data_tokens[key] for key in ("overlong", "max_length", "overlong_action",
                                                               "long_references", "references", "max_new_tokens",
                                                               "longest_reference")
                 if key in comparison.data_tokens},
        "items": items,
    })


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_reports(comparison, out_dir: Path, settings: EvaluationConfig) -> tuple[Path, Path]:
    from tunesmith.evaluate.html import render_html

    out_dir = ensure_writable(Path(out_dir))
    comparison.diagnostics = diagnose(comparison, settings.examples_in_report)
    data = report_data(comparison, settings)
    data["next_steps"] = next_steps(data)
    json_path, html_path = out_dir / REPORT_JSON, out_dir / REPORT_HTML
    _atomic_write(json_path, json.dumps(data, indent=2, ensure_ascii=False))
    _atomic_write(html_path, render_html(comparison, data))
    comparison.report_json, comparison.report_html = json_path, html_path
    return json_path, html_path
