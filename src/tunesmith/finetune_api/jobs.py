"""Fine-tuning jobs: creation from an OpenAI request, the state machine, and what a finished job leaves.

queued → validating_files → running → succeeded | failed | cancelled, and running ⇄ paused (OpenAI's pause and
resume). Every transition is a conditional update in the store, so request threads (cancel, pause) and
worker threads never overwrite each other. A cancel or pause of a running job is a request the worker
carries out: the trainer saves a checkpoint, then stops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunesmith.finetune_api.errors import OpenAIError, bad_request, not_found
from tunesmith.finetune_api.files import FileService
from tunesmith.finetune_api.hyperparameters import (
    base_model_for,
    checked_metadata,
    checked_seed,
    checked_suffix,
    requested_hyperparameters,
    requested_method,
    resolve_hyperparameters,
    training_config,
)
from tunesmith.finetune_api.objects import ACTIVE, FINISHED, fine_tuned_model_id, results_csv
from tunesmith.finetune_api.progress import checkpoint_folders
from tunesmith.finetune_api.store import Store, new_id, now
from tunesmith.project import Project


class JobService:
    def __init__(self, project: Project, store: Store, files: FileService, folder: Path):
        self.project, self.store, self.files, self.folder = project, store, files, Path(folder)
        self.settings = project.config.finetune_api
        self.on_change: Callable[[], None] = lambda: None
        self.on_model_ready: Callable[[str, Path], None] = lambda model_id, run_dir: None

    # requests -------------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        model, training_file = body.get("model"), body.get("training_file")
        if not isinstance(model, str) or not model:
            raise bad_request("'model' is required.", "model", code="missing_required_parameter")
        if not isinstance(training_file, str) or not training_file:
            raise bad_request("'training_file' is required.", "training_file", code="missing_required_parameter")
        base_model = base_model_for(model, self.settings)
        for param in ("training_file", "validation_file"):
            if body.get(param) and not isinstance(body[param], str):
                raise bad_request(f"'{param}' must be a file id (a string).", param)
            if body.get(param):  # its rows were checked at upload; they are read again when the job starts
                self.files.require_training_file(body[param], param)
        method = requested_method(body)
        hyper = resolve_hyperparameters(requested_hyperparameters(body), self.project.config, method)
        suffix = checked_suffix(body.get("suffix"))
        seed = checked_seed(body.get("seed"))
        metadata = checked_metadata(body.get("metadata"))
        waiting = self.store.select("jobs", "status IN ('queued', 'validating_files', 'running')")
        if len(waiting) >= self.settings.max_queued_jobs:
            raise OpenAIError(429, f"{len(waiting)} jobs are already waiting or running (finetune_api.max_queued_"
                              "jobs); try again when one finishes.", type="rate_limit_error", code="too_many_jobs")
        job_id = new_id("ftjob")
        row = self.store.insert("jobs", {
            "id": job_id, "created_at": now(), "model": model, "base_model": base_model,
            "training_file": training_file, "validation_file": body.get("validation_file") or None,
            "hyperparameters": hyper, "method": method, "suffix": suffix, "seed": seed, "status": "queued",
            "fine_tuned_model": fine_tuned_model_id(model, suffix, job_id), "metadata": metadata},
            event={"message": f"Created fine-tuning job: {job_id}"})
        self.on_change()
        return self.get(row["id"])

    def get(self, job_id: str) -> dict[str, Any]:
        row = self.store.get("jobs", job_id)
        if row is None:
            raise not_found("fine-tuning job", job_id, "fine_tuning_job_id")
        return row

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] in FINISHED:
            raise bad_request(f"Job {job_id} has already {job['status']} and cannot be cancelled.",
                              "fine_tuning_job_id", code="job_finished")
        if not self.finish(job_id, "cancelled", "The job was cancelled.", ("queued", "paused")):
            self.store.update("jobs", job_id, stop_requested="cancel")
            self.store.add_event(job_id, "Cancelling: training saves a checkpoint and stops.")
        return self.get(job_id)

    def pause(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] not in ("queued", *ACTIVE):
            raise bad_request(f"Job {job_id} is {job['status']}; only queued or running jobs can be paused.",
                              "fine_tuning_job_id", code="job_not_running")
        paused_at_once = self.store.transition("jobs", job_id, ("queued",), status="paused",
                                               event={"message": "The job was paused before it started."})
        if not paused_at_once and not job["stop_requested"]:
            self.store.update("jobs", job_id, stop_requested="pause")
            self.store.add_event(job_id, "Pausing: training saves a checkpoint and stops.")
        return self.get(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        steps = sorted(checkpoint_folders(Path(job["run_dir"]))) if job["run_dir"] else []
        where = f"checkpoint step {steps[-1]}" if steps else "the start"
        if not self.store.transition("jobs", job_id, ("paused",), status="queued", attempts=0, event={
                "message": f"Resumed: the job is queued again and continues from {where}."}):
            raise bad_request(f"Job {job_id} is {job['status']}; only paused jobs can be resumed.",
                              "fine_tuning_job_id", code="job_not_paused")
        self.on_change()
        return self.get(job_id)

    def stop_requested(self, job_id: str) -> str | None:
        """"cancel" or "pause" while a request to stop the running job waits to be carried out."""
        return self.get(job_id)["stop_requested"]

    def succeeded_model(self, model_id: str) -> dict[str, Any] | None:
        rows = self.store.select("jobs", "fine_tuned_model = ? AND status = 'succeeded'", (model_id,))
        return rows[0] if rows else None

    # worker side ----------------------------------------------------------------------------------
    def claim_next(self) -> dict[str, Any] | None:
        for job in self.store.select("jobs", "status = 'queued'", order="seq ASC"):
            if self.store.transition("jobs", job["id"], ("queued",), status="validating_files",
                                     attempts=job["attempts"] + 1,
                                     event={"message": "Validating training file: " + job["training_file"]}):
                return self.get(job["id"])
        return None

    def prepare(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The child process's spec, or None when the job failed validation (the reason is on the job)."""
        job_dir = self.folder / job["id"]
        job_dir.mkdir(parents=True, exist_ok=True)
        try:
            train = self.files.records(job["training_file"], "training_file")
            validation = self.files.records(job["validation_file"], "validation_file") if job["validation_file"] \
                else None
            for param, records in (("training_file", train), ("validation_file", validation or [])):
                _check_method_fits(job["method"], records, param)
        except OpenAIError as err:
            self.fail(job["id"], "invalid_file", err.message, err.param)
            return None
        (job_dir / "train.json").write_text(json.dumps(train))
        if validation:
            (job_dir / "validation.json").write_text(json.dumps(validation))
        run_dir = Path(job["run_dir"]) if job["run_dir"] else self.project.new_run_dir(f"ft-{job['id'][6:14]}")
        self.store.update("jobs", job["id"], run_dir=str(run_dir))
        config = training_config(self.project.config, job["base_model"], job["hyperparameters"], job["seed"],
                                 len(train), job["method"])
        return {"job_id": job["id"], "job_dir": str(job_dir), "run_dir": str(run_dir),
                "train_path": str(job_dir / "train.json"),
                "validation_path": str(job_dir / "validation.json") if validation else None,
                "result_path": str(job_dir / "result.json"), "config": config.model_dump(mode="json"),
                "resume": bool(checkpoint_folders(run_dir)), "dataset_version": f"file:{job['training_file']}",
                "max_eval_examples": self.settings.evaluation_examples}

    def mark_running(self, job_id: str, resume: bool) -> bool:
        steps = sorted(checkpoint_folders(Path(self.get(job_id)["run_dir"])))
        message = f"Fine-tuning job resumed from checkpoint step {steps[-1]}" if resume and steps \
            else "Fine-tuning job started"
        return self.store.transition("jobs", job_id, ("validating_files",), status="running",
                                     event={"message": message})

    def conclude(self, job_id: str, result_path: Path, log_path: Path) -> None:
        outcome = json.loads(result_path.read_text()) if result_path.exists() else {}
        request = self.stop_requested(job_id)
        if request == "cancel":
            self.finish(job_id, "cancelled", "The job was cancelled.")
        elif request == "pause":
            self.paused(job_id)
        elif outcome.get("status") == "succeeded":
            self._succeed(job_id, outcome)
        else:
            error = outcome.get("error") or {"code": "training_error",
                                             "message": "training stopped unexpectedly: " + _tail(log_path)}
            self.fail(job_id, error["code"], error["message"])

    def _succeed(self, job_id: str, outcome: dict[str, Any]) -> None:
        job = self.get(job_id)
        rows = [e["data"] for e in self.store.select("events", "job_id = ? AND type = 'metrics'", (job_id,),
                                                     "seq ASC")]
        result = self.files.save_result("step_metrics.csv", results_csv(rows))
        metrics = outcome.get("metrics") or {}
        tokens = metrics.get("trained_tokens") or metrics.get("tokens")
        self.store.update("jobs", job_id, result_files=[result["id"]], report=outcome.get("report"),
                          trained_tokens=int(tokens) if tokens else None)
        if outcome.get("report_error"):
            self.store.add_event(job_id, f"No evaluation report: {outcome['report_error']}", level="warn")
        if outcome.get("report"):
            self.store.add_event(job_id, "Evaluation report (base vs fine-tuned) ready: "
                                 f"GET /v1/fine_tuning/jobs/{job_id}/report", data=outcome["report"])
        try:
            self.on_model_ready(job["fine_tuned_model"], Path(job["run_dir"]))  # servable before success shows
        except Exception as err:  # the weights are fine; only this server cannot offer them
            self.store.add_event(job_id, f"The model was trained but this server cannot serve it: {err}",
                                 level="warn")
        self.store.add_event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
        self.finish(job_id, "succeeded", "The job has successfully completed")

    def paused(self, job_id: str) -> None:
        steps = sorted(checkpoint_folders(Path(self.get(job_id)["run_dir"])))
        where = f" at checkpoint step {steps[-1]}" if steps else ""
        self.store.transition("jobs", job_id, ACTIVE, status="paused", stop_requested=None, event={
            "message": f"The job was paused{where}; resume it with POST /v1/fine_tuning/jobs/{job_id}/resume."})
        self.on_change()

    def fail(self, job_id: str, code: str, message: str, param: str | None = None) -> None:
        error = {"code": code, "message": message, "param": param}
        if self.store.transition("jobs", job_id, ("queued", *ACTIVE), status="failed", error=error,
                                 finished_at=now(), event={"message": f"The job failed: {message}", "level": "error"}):
            self.on_change()

    def finish(self, job_id: str, status: str, message: str, from_statuses: tuple[str, ...] = ("queued", *ACTIVE),
               ) -> bool:
        if not self.store.transition("jobs", job_id, from_statuses, status=status, finished_at=now(),
                                     event={"message": message}):
            return False
        self.on_change()
        return True


def _check_method_fits(method: str, records: list[dict[str, Any]], param: str) -> None:
    """A dpo job trains on pairs only (a supervised one on any chat lines: a pair trains its preferred output)."""
    if method != "dpo":
        return
    plain = sum(1 for record in records if record.get("rejected") is None)
    if plain:
        raise bad_request(f"{param}: {plain} of {len(records)} examples are not preference pairs; a dpo job needs "
                          "OpenAI DPO lines with input, preferred_output and non_preferred_output.", param)


def _tail(log_path: Path, lines: int = 3) -> str:
    if not log_path.exists():
        return "no log was written"
    text = log_path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "the log is empty"
