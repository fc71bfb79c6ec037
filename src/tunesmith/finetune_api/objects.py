"""Store rows rendered as the JSON objects OpenAI's API returns (pure functions)."""

from __future__ import annotations

import csv
import io
from typing import Any

ORGANIZATION = "org-tunesmith-local"
FINISHED = {"succeeded", "failed", "cancelled"}
ACTIVE = ("validating_files", "running")
COMMON_HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
RESULT_COLUMNS = ["step", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy"]


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "object": "file", "bytes": row["bytes"], "created_at": row["created_at"],
            "filename": row["filename"], "purpose": row["purpose"], "status": "processed",
            "status_details": None, "expires_at": None}


def job_object(row: dict[str, Any]) -> dict[str, Any]:
    hyper, method = row["hyperparameters"], row.get("method") or "supervised"
    return {
        "id": row["id"], "object": "fine_tuning.job", "created_at": row["created_at"],
        "model": row["model"], "organization_id": ORGANIZATION, "status": row["status"],
        "training_file": row["training_file"], "validation_file": row["validation_file"],
        # the top-level (deprecated) field has the three values every method shares, as OpenAI's
        "hyperparameters": {k: v for k, v in hyper.items() if k in COMMON_HYPERPARAMETERS}, "seed": row["seed"],
        "suffix": row["suffix"],
        "fine_tuned_model": row["fine_tuned_model"] if row["status"] == "succeeded" else None,
        "finished_at": row["finished_at"], "error": row["error"], "trained_tokens": row["trained_tokens"],
        "result_files": row["result_files"], "metadata": row["metadata"], "integrations": [],
        "estimated_finish": row["estimated_finish"] if row["status"] == "running" else None,
        "method": {"type": method, method: {"hyperparameters": hyper}},
    }


def event_object(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "object": "fine_tuning.job.event", "created_at": row["created_at"],
            "level": row["level"], "message": row["message"], "type": row["type"], "data": row["data"]}


def checkpoint_object(row: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "object": "fine_tuning.job.checkpoint", "created_at": row["created_at"],
            "fine_tuned_model_checkpoint": checkpoint_model_id(job["fine_tuned_model"], row["step"]),
            "fine_tuning_job_id": job["id"], "step_number": row["step"], "metrics": row["metrics"]}


def page_object(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": has_more,
            "first_id": items[0]["id"] if items else None, "last_id": items[-1]["id"] if items else None}


def fine_tuned_model_id(base: str, suffix: str | None, job_id: str) -> str:
    """OpenAI's naming: `ft:<base>:<org>:<suffix>:<id>`, so `ft:<base>:<org>::<id>` without a suffix."""
    return f"ft:{base}:{ORGANIZATION.removeprefix('org-')}:{suffix or ''}:{job_id.removeprefix('ftjob-')[:8]}"


def checkpoint_model_id(model_id: str, step: int) -> str:
    return f"{model_id}:ckpt-step-{step}"


def results_csv(metric_rows: list[dict[str, Any]]) -> bytes:
    """OpenAI's per-step results file (`step_metrics.csv`) from the job's metrics events."""
    table = io.StringIO()
    writer = csv.DictWriter(table, RESULT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(metric_rows)
    return table.getvalue().encode()
