"""HTTP routes of OpenAI's Files and Fine-tuning APIs, plus two extras: a job's evaluation report and its
weights as a download. Thin: each route calls `FileService` / `JobService` and renders an OpenAI object.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse

from tunesmith.finetune_api.errors import OpenAIError, OpenAIErrorRoute, bad_request
from tunesmith.finetune_api.export import FORMATS, export_archive
from tunesmith.finetune_api.files import FileService
from tunesmith.finetune_api.jobs import JobService
from tunesmith.finetune_api.objects import (
    ACTIVE,
    checkpoint_object,
    event_object,
    file_object,
    job_object,
    page_object,
)

STOP_WAIT_SECONDS = 10.0


def metadata_filter(query: list[tuple[str, str]]) -> tuple[str, tuple]:
    """SQL for OpenAI's `metadata[key]=value` filters (all must match) or `metadata=null`."""
    clauses, params = ["1"], []
    for key, value in query:
        if key == "metadata" and value == "null":
            clauses.append("metadata IS NULL")
        elif key.startswith("metadata[") and key.endswith("]"):
            clauses.append("json_extract(metadata, ?) = ?")
            params += ['$."' + key[9:-1].replace('"', '""') + '"', value]
    return " AND ".join(clauses), tuple(params)


def build_router(files: FileService, jobs: JobService, lifespan=None,
                 dependencies: Sequence[Any] = ()) -> APIRouter:
    router = APIRouter(route_class=OpenAIErrorRoute, lifespan=lifespan, dependencies=list(dependencies),
                       tags=["fine-tuning"])

    @router.post("/v1/files")
    def upload_file(file: UploadFile = File(...), purpose: str = Form(...)) -> dict[str, Any]:
        content = file.file.read(files.max_bytes + 1)
        return file_object(files.upload(file.filename or "upload.jsonl", content, purpose))

    @router.get("/v1/files")
    def list_files(after: str | None = None, limit: int = Query(10000, ge=1, le=10000), order: str = "desc",
                   purpose: str | None = None) -> dict[str, Any]:
        rows, more = files.page(after, limit, order, purpose)
        return page_object([file_object(row) for row in rows], more)

    @router.get("/v1/files/{file_id}")
    def retrieve_file(file_id: str) -> dict[str, Any]:
        return file_object(files.get(file_id))

    @router.get("/v1/files/{file_id}/content")
    def file_content(file_id: str) -> FileResponse:
        row = files.get(file_id)
        media = "text/csv" if row["filename"].endswith(".csv") else "application/jsonl"
        return FileResponse(files.path(file_id), media_type=media)  # streamed, however large

    @router.delete("/v1/files/{file_id}")
    def delete_file(file_id: str) -> dict[str, Any]:
        return files.delete(file_id)

    @router.post("/v1/fine_tuning/jobs")
    def create_job(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        from tunesmith.serve.schemas import lone_surrogate, unicode_problem

        where = lone_surrogate(body)
        if where is not None:
            raise bad_request(unicode_problem(where), where.split(".")[0])
        return job_object(jobs.create(body))

    @router.get("/v1/fine_tuning/jobs")
    def list_jobs(request: Request, after: str | None = None, limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
        where, params = metadata_filter(request.query_params.multi_items())
        rows, more = jobs.store.page("jobs", where=where, params=params, after=after, limit=limit)
        return page_object([job_object(row) for row in rows], more)

    @router.get("/v1/fine_tuning/jobs/{job_id}")
    def retrieve_job(job_id: str) -> dict[str, Any]:
        return job_object(jobs.get(job_id))

    async def settled(job: dict[str, Any]) -> dict[str, Any]:
        """Give a stop request a moment to land (the checkpoint is quick on small models)."""
        waited = 0.0
        while job["status"] in ACTIVE and job["stop_requested"] and waited < STOP_WAIT_SECONDS:
            await asyncio.sleep(0.25)
            waited += 0.25
            job = await asyncio.to_thread(jobs.get, job["id"])
        return job_object(job)

    @router.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str) -> dict[str, Any]:
        return await settled(await asyncio.to_thread(jobs.cancel, job_id))

    @router.post("/v1/fine_tuning/jobs/{job_id}/pause")
    async def pause_job(job_id: str) -> dict[str, Any]:
        return await settled(await asyncio.to_thread(jobs.pause, job_id))

    @router.post("/v1/fine_tuning/jobs/{job_id}/resume")
    def resume_job(job_id: str) -> dict[str, Any]:
        return job_object(jobs.resume(job_id))

    @router.get("/v1/fine_tuning/jobs/{job_id}/events")
    def list_events(job_id: str, after: str | None = None, limit: int = Query(20, ge=1, le=1000)) -> dict[str, Any]:
        jobs.get(job_id)
        rows, more = jobs.store.page("events", where="job_id = ?", params=(job_id,), after=after, limit=limit)
        return page_object([event_object(row) for row in rows], more)

    @router.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    def list_checkpoints(job_id: str, after: str | None = None,
                         limit: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
        job = jobs.get(job_id)
        rows, more = jobs.store.page("checkpoints", where="job_id = ?", params=(job_id,), after=after, limit=limit)
        return page_object([checkpoint_object(row, job) for row in rows], more)

    @router.get("/v1/fine_tuning/jobs/{job_id}/report")
    def job_report(job_id: str, format: str = Query("json", pattern="^(json|html)$")) -> Any:
        job = jobs.get(job_id)
        if not job["report"]:
            raise OpenAIError(404, f"Job {job_id} has no evaluation report (status: {job['status']}; reports are "
                              "written after training succeeds when finetune_api.evaluate is on).",
                              param="fine_tuning_job_id", code="report_not_available")
        paths = {kind: Path(job["report"][f"{kind}_path"]) for kind in ("json", "html")}
        if not paths[format].exists():
            raise OpenAIError(404, f"The {format} report of job {job_id} is gone from the server.",
                              code="report_not_available")
        if format == "html":
            return HTMLResponse(paths["html"].read_text(encoding="utf-8"))
        return {"object": "fine_tuning.job.report", "fine_tuning_job_id": job_id, "summary": job["report"],
                "report": json.loads(paths["json"].read_text(encoding="utf-8"))}

    @router.get("/v1/fine_tuning/jobs/{job_id}/export")
    def export_weights(job_id: str, format: str = Query("run", pattern=f"^({'|'.join(FORMATS)})$")) -> FileResponse:
        job = jobs.get(job_id)
        if job["status"] != "succeeded":
            raise OpenAIError(409, f"Job {job_id} is {job['status']}; weights can be exported once it succeeded.",
                              param="fine_tuning_job_id", code="job_not_succeeded")
        archive = export_archive(Path(job["run_dir"]), jobs.folder / job_id, format)
        return FileResponse(archive, media_type="application/gzip", filename=f"{job_id}-{format}.tar.gz")

    return router
