"""The extra OpenAI never gave: base vs fine-tuned on the job's validation file, with intervals and a verdict.

Runs in the job's child process after training (so a cancel stops it too) through `tunesmith.evaluate.compare`;
the job keeps a short summary and the paths of `eval/report.{json,html}` in its run folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tunesmith.config import ProjectConfig
from tunesmith.project import Project


def evaluate_job(spec: dict[str, Any], config: ProjectConfig, train: list[dict], validation: list[dict],
                 ) -> dict[str, Any] | None:
    """None without a validation file: scoring on the training examples would flatter the model."""
    if not validation:
        return None
    from tunesmith.evaluate import compare

    data = config.model_dump(mode="json")
    data["evaluation"].update(split="validation", max_examples=spec["max_eval_examples"])
    run_dir = Path(spec["run_dir"])
    comparison = compare(Project(run_dir, ProjectConfig.model_validate(data)),
                         {"train": train, "validation": validation}, [run_dir])
    return {
        "verdict": comparison.verdict, "split": comparison.split, "n_items": len(comparison.items),
        "primary_metric": comparison.primary,
        "contenders": {row.name: {name: _finite(estimate.mean) for name, estimate in row.metrics.items()}
                       for row in comparison.rows},
        "json_path": str(comparison.report_json), "html_path": str(comparison.report_html),
    }


def _finite(value: float) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None
