"""Serve whatever the registry says is in production, and pick up promotions without a restart.

`ProductionRegistry` is the server's `ModelRegistry` with one extra model id, the alias (the project
name by default): requests for it go to the production version, re-read from the store at most every
`feedback.production_ttl_seconds`. Versions load lazily under their own id (`<alias>@v<N>`), so a
promotion or rollback switches the next request and the old version is evicted by the LRU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from tunesmith.embeddings.load import is_embedding_run, split_embedding_sources
from tunesmith.errors import TunesmithError
from tunesmith.feedback.api import attach_feedback
from tunesmith.feedback.registry import cached_production
from tunesmith.feedback.store import Store
from tunesmith.serve.registry import ModelRegistry, ModelSource, UnknownModelError, describe


class ProductionRegistry(ModelRegistry):
    def __init__(self, store: Store, alias: str, extra: list[ModelSource] = (), max_loaded: int = 4,
                 dtype: str = "float32", linear_kernel: str = "torch"):
        self.store, self.alias = store, alias
        super().__init__([*extra, self._describe_production()], max_loaded, dtype, linear_kernel)
        self.sources[alias] = dataclasses.replace(self.sources[self._production_id()], model_id=alias)

    def _production_id(self) -> str:
        version = cached_production(self.store)
        if version is None:
            raise UnknownModelError(f"no model is in production for '{self.alias}'.",
                                    "Promote one with `tunesmith models promote`.")
        return f"{self.alias}@v{version.id}"

    def _describe_production(self) -> ModelSource:
        model_id = self._production_id()
        version = cached_production(self.store)
        return describe(Path(version.run_path), model_id)

    def current_id(self, model_id: str) -> str:
        """The versioned id a request for `model_id` is served by (itself unless it is the alias)."""
        if model_id != self.alias:
            return model_id
        versioned = self._production_id()
        if versioned not in self.sources:
            source = self._describe_production()
            with self._lock:
                self.sources[versioned] = source
                self.sources[self.alias] = dataclasses.replace(source, model_id=self.alias)
        return versioned

    def source(self, model_id: str) -> ModelSource:
        return super().source(self.current_id(model_id))

    def context_length(self, model_id: str) -> int:
        return super().context_length(self.current_id(model_id))

    def acquire(self, model_id: str):
        loaded = super().acquire(self.current_id(model_id))
        # The engine batches queued requests by the id they asked for, so answer under that id.
        return loaded if loaded.model_id == model_id else dataclasses.replace(loaded, model_id=model_id)


class ProductionEmbeddings(Mapping):
    """For /v1/embeddings when the production model is an embedding run: the alias (and its versioned id)
    → the run in production now, re-read like `ProductionRegistry`'s, plus the given embedding runs."""

    def __init__(self, store: Store, alias: str, extra: Mapping[str, str] | None = None):
        self.store, self.alias, self.extra = store, alias, dict(extra or {})

    def resolve(self, model_id: str) -> str:
        """The id vectors for `model_id` come from: the alias becomes `<alias>@v<N>`, so a promotion loads the
        new version under its own id and the old one ages out of the batcher's loaded models."""
        version = cached_production(self.store)
        return f"{self.alias}@v{version.id}" if model_id == self.alias and version else model_id

    def __getitem__(self, model_id: str) -> str:
        if model_id in self.extra:
            return self.extra[model_id]
        version = cached_production(self.store)
        if version and model_id in (self.alias, f"{self.alias}@v{version.id}") and is_embedding_run(version.run_path):
            return version.run_path
        raise KeyError(model_id)

    def __iter__(self):
        return iter([*self.extra, self.alias])

    def __len__(self) -> int:
        return len(self.extra) + 1


def production_registry(project, store: Store, extra_models: list[str | Path] = (),
                        settings=None) -> ProductionRegistry:
    """The registry `build_server(production=True)` serves: the production version under the project's name,
    plus `extra_models` (ID=PATH names one)."""
    settings = settings or project.config.serve
    _require_production(project, store)
    return ProductionRegistry(store, project.config.name, _described(extra_models), settings.max_loaded_models,
                              settings.dtype, settings.linear_kernel)


def production_models(project, store: Store, extra_models: list[str] = (),
                      settings=None) -> tuple[ModelRegistry, ProductionEmbeddings | None]:
    """What a production server serves: the language/classification registry, and the embedding models (None
    when there are none). An embedding run in production is served on /v1/embeddings under the alias; given
    embedding runs join it there, the other given models go to the registry."""
    settings = settings or project.config.serve
    extra, embedding_runs = split_embedding_sources([str(m) for m in extra_models])
    if not is_embedding_run(_require_production(project, store).run_path):
        registry = production_registry(project, store, extra, settings)
        embeddings = ProductionEmbeddings(store, project.config.name, embedding_runs) if embedding_runs else None
        return registry, embeddings
    registry = ModelRegistry(_described(extra), settings.max_loaded_models, settings.dtype, settings.linear_kernel,
                             allow_empty=True)
    return registry, ProductionEmbeddings(store, project.config.name, embedding_runs)


def _described(models) -> list[ModelSource]:
    """Model specs (PATH, or ID=PATH to name one) as registry sources."""
    return [describe(*reversed(str(m).split("=", 1))) if "=" in str(m) else describe(m) for m in models]


def _require_production(project, store: Store):
    version = cached_production(store)
    if version is None:
        raise TunesmithError(f"no model of {project.root} is in production",
                             "Promote a run first: `tunesmith models promote runs/<run-id>`.")
    return version


def create_production_app(project, extra_models: list[str | Path] = (), store: Store | None = None) -> FastAPI:
    """The production server of a project, as `tunesmith serve --production` builds it (see `build_server`)."""
    from tunesmith.serve.server import build_server

    return build_server(extra_models, project=project, production=True, store=store).app


def attach_project_feedback(app: FastAPI, project_root: str | Path, feedback_settings) -> FastAPI:
    """`POST /v1/feedback` and request logging (when `feedback.log_requests` is on) into the project's store, on
    an app from `tunesmith.serve.create_app` (whose guard already asks for the server's keys)."""
    from tunesmith.feedback.store import open_store, resolve_url

    store = open_store(resolve_url(feedback_settings.database_url, project_root), feedback_settings)
    app.state.feedback_store = store
    return attach_feedback(app, store)
