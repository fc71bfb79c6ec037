"""The planner's prediction for a training run, written beside it as plan.json, and read back next to
what the run measured."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.config import ProjectConfig
from tunesmith.runs import PLAN_FILE


def token_counts(config: ProjectConfig, records: list[dict]) -> tuple[list[int], list[int], int]:
    """(lengths, loss-carrying positions, label count) exactly as the trainer will encode the records."""
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.train.encode import encode_records, label_list

    task = config.objective.task
    if task == "embedding":
        from tunesmith.errors import TunesmithError

        raise TunesmithError("the planner does not model embedding training (pairs of texts through an encoder)",
                             "Train directly: a MiniLM-sized encoder trains thousands of pairs in minutes on a CPU.")
    tokenizer = load_tokenizer(config.model.name, trust_remote_code=config.model.trust_remote_code)
    labels = label_list(records) if task == "classification" else None
    examples = encode_records(tokenizer, records, task, config.model.max_length, labels,
                              config.training.train_on_prompt)
    return [len(ex) for ex in examples], [ex.targets for ex in examples], len(labels or [])


def predict_for_run(config: ProjectConfig, train_records: list[dict], advise: bool = False) -> dict:
    """The planner's prediction for training `config` on these records (JSON-ready)."""
    from tunesmith.plan.planner import plan

    lengths, targets, labels = token_counts(config, train_records)
    result = plan(config, len(lengths), lengths, target_lengths=targets, labels=labels, advise=advise)
    return summary(result.to_json())


def summary(plan_json: dict) -> dict:
    """The fields a run records: what to compare with the run's own measurements."""
    keys = ("target", "threads", "model", "total_params", "total_steps", "total_seconds", "peak_memory",
            "seconds_per_step", "seconds_per_epoch", "available_memory", "fits")
    estimate = plan_json.get("estimate", {})
    return {**{k: plan_json.get(k) for k in keys}, "trainable_params": estimate.get("trainable_params"),
            "memory": estimate.get("memory"), "steps_per_epoch": estimate.get("steps_per_epoch")}


def write_prediction(run_dir: str | Path, prediction: dict) -> Path:
    path = Path(run_dir) / PLAN_FILE
    path.write_text(json.dumps(prediction, indent=2, default=str))
    return path


def read_prediction(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / PLAN_FILE
    return json.loads(path.read_text()) if path.exists() else None


def predicted_vs_actual(prediction: dict, run: dict) -> list[dict]:
    """Rows of (quantity, predicted, actual, error) from plan.json and run.json (pure)."""
    rows = []
    steps = run.get("steps") or 0
    if steps and run.get("seconds") is not None and prediction.get("seconds_per_step"):
        rows.append(_row("seconds per step", prediction["seconds_per_step"], run["seconds"] / steps))
    if prediction.get("trainable_params") and run.get("trainable_params"):
        rows.append(_row("trainable parameters", prediction["trainable_params"], run["trainable_params"]))
    peak = run.get("peak_rss") or run.get("peak_memory")
    if peak and prediction.get("peak_memory"):
        rows.append(_row("peak memory (bytes)", prediction["peak_memory"], peak))
    if prediction.get("total_steps") and steps:
        rows.append(_row("optimizer steps", prediction["total_steps"], steps))
    return rows


def _row(name: str, predicted: float, actual: float) -> dict:
    error = (predicted - actual) / actual if actual else None
    return {"quantity": name, "predicted": predicted, "actual": actual, "error": error}
