"""`FinetuneAPI`: the files store, the jobs store and the worker of one project, and their HTTP router.

Mount it on any FastAPI app: `app.include_router(create_finetune_router(project))`. The router's lifespan
starts the worker (recovering jobs a previous server left mid-flight) and stops it on shutdown; on an app
from `tunesmith.serve.create_app` it also registers every fine-tuned model with the app's model registry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from tunesmith.finetune_api.files import FileService
from tunesmith.finetune_api.jobs import JobService
from tunesmith.finetune_api.router import build_router
from tunesmith.finetune_api.serving import register_model
from tunesmith.finetune_api.store import Store
from tunesmith.finetune_api.worker import DEFAULT_EVALUATOR, DEFAULT_TRAINER, JobWorker
from tunesmith.project import Project

log = logging.getLogger(__name__)


class FinetuneAPI:
    def __init__(self, project: Project, *, trainer: str = DEFAULT_TRAINER, evaluator: str | None = DEFAULT_EVALUATOR,
                 dependencies: Sequence[Any] = (), poll_seconds: float = 0.5, use_launcher: bool = True):
        settings = project.config.finetune_api
        folder = project.source_path(settings.store_dir)
        self.project = project
        self.store = Store(folder / "store.sqlite")
        self.files = FileService(self.store, folder / "files", int(settings.max_file_mb * 1_000_000),
                                 project.config.data)
        self.jobs = JobService(project, self.store, self.files, folder / "jobs")
        self.worker = JobWorker(self.jobs, trainer=trainer, evaluator=evaluator, poll_seconds=poll_seconds,
                                use_launcher=use_launcher)
        self.router: APIRouter = build_router(self.files, self.jobs, self._lifespan, dependencies)

    @asynccontextmanager
    async def _lifespan(self, app):
        registry = getattr(getattr(app, "state", None), "registry", None)  # set by tunesmith.serve.create_app
        if registry is not None:
            self.serve_models_in(registry)
        for model_id, run_dir in self.models().items():
            try:
                self.jobs.on_model_ready(model_id, run_dir)
            except Exception as err:  # one missing run folder must not keep the server from starting
                log.warning("fine-tuned model %s is not served: %s", model_id, err)
        self.worker.start()
        try:
            yield
        finally:
            self.worker.stop()

    def serve_models_in(self, registry) -> None:
        """Register every fine-tuned model in a `tunesmith.serve` model registry, now and as jobs succeed."""
        self.jobs.on_model_ready = lambda model_id, run_dir: register_model(registry, model_id, run_dir)

    def models(self) -> dict[str, Path]:
        """Fine-tuned models that can be served now (id → run folder), newest first."""
        return {job["fine_tuned_model"]: Path(job["run_dir"])
                for job in self.store.select("jobs", "status = 'succeeded'")}

    def resolve_model(self, model_id: str) -> Path | None:
        """The run folder behind a fine-tuned model id (`ft:...`), or None if it is not one of ours."""
        job = self.jobs.succeeded_model(model_id)
        return Path(job["run_dir"]) if job else None


def create_finetune_router(project: Project, **kwargs: Any) -> APIRouter:
    """The fine-tuning API's router; `router.finetune_api` is the `FinetuneAPI` behind it."""
    api = FinetuneAPI(project, **kwargs)
    api.router.finetune_api = api  # lets the app that mounts it resolve fine-tuned model ids
    return api.router
