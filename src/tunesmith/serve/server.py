"""`build_server`: the one place a tunesmith server is assembled.

`tunesmith serve` (plain and `--production`), the studio's Deploy page and the tests all call it, so every
way of starting a server gets the same keys (config + `TUNESMITH_API_KEYS`), the same guard on every route,
the same project mounts and the same warnings. What varies is passed in, not re-derived by each caller:

- the models: given sources, else the project's finished runs (or its base model);
- the backend: `serve.backend` (torch, or llamacpp for GGUF exports);
- production: the registry's production alias (the project name) plus any given models;
- a project: `POST /v1/feedback` with request logging, and the fine-tuning API when enabled.

A feature that adds routes includes its router on `Server.app`: the guard in front of routing
(`serve.auth.Guard`) covers it without further wiring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.config.serve import ServeConfig
from tunesmith.errors import TunesmithError
from tunesmith.serve.app import ServerApp, create_app

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Server:
    app: ServerApp
    settings: ServeConfig  # as served: the project's `serve` section (or the given one) with host/port applied
    mounted: list[str] = field(default_factory=list)  # routes beyond the core API: /v1/feedback, /v1/files, ...
    warnings: list[str] = field(default_factory=list)  # for the operator, printed by the CLI on stderr

    @property
    def keyed(self) -> bool:
        return self.app.state.keys.enabled

    @property
    def models(self) -> list[str]:
        """Every model id it answers for: the registry's, then mounted routers' (embedding models)."""
        return [*self.app.state.registry.sources, *self.app.state.mounted_models]

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}/v1"


def project_models(project) -> list[str]:
    """What `tunesmith serve -p PROJECT` offers by default: every finished run, else the project's base model."""
    from tunesmith.runs import list_run_folders

    runs = [folder for folder in list_run_folders(project.runs_dir) if folder.finished]
    return [str(folder.path) for folder in runs] or [project.config.model.name]


def named_runs(models: Sequence[str | Path], project) -> list[str]:
    """Model specs with runs named the way every command names them: `latest`, a run id (or a unique part of
    one) or a path relative to the project become that run's folder; anything else is left as given (model
    folders, catalog names, ID=PATH with either)."""
    from tunesmith.models.catalog import CATALOG
    from tunesmith.runs import find_run

    named = []
    for spec in (str(m) for m in models):
        model_id, _, target = spec.partition("=") if "=" in spec else ("", "", spec)
        folder = None
        if not Path(target).expanduser().exists() and target not in CATALOG:
            folder = find_run(target, project.root if project is not None else None)
        path = str(folder.path) if folder is not None else target
        named.append(f"{model_id}={path}" if model_id else path)
    return named


def _backend(sources: list[str], settings: ServeConfig):
    """(registry, engine) for `serve.backend`; engine None means create_app's batched torch engine."""
    if settings.backend == "llamacpp":
        from tunesmith.serve.llamacpp import llamacpp_backend

        return llamacpp_backend(sources, settings)
    from tunesmith.serve.registry import ModelRegistry

    return ModelRegistry.from_paths(sources, max_loaded=settings.max_loaded_models, dtype=settings.dtype,
                                    linear_kernel=settings.linear_kernel), None


def build_server(models: Sequence[str | Path] = (), *, project=None, settings: ServeConfig | None = None,
                 production: bool = False, host: str | None = None, port: int | None = None, store=None,
                 finetune_options: Mapping[str, Any] | None = None) -> Server:
    """Assemble the server for `models` and/or `project` (a `tunesmith.project.Project`).

    `settings` defaults to the project's `serve` section; `host`/`port` override it. `production` serves the
    project's production model under the project's name (promotions apply without a restart). `store` is
    the project's feedback store (opened from the project when not given); `finetune_options` go to
    `FinetuneAPI` (tests pass a stand-in trainer).
    """
    settings = settings or (project.config.serve if project is not None else ServeConfig())
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v}
    settings = settings.model_copy(update=updates) if updates else settings
    sources = named_runs(models, project)
    if production:
        if project is None:
            raise TunesmithError("--production needs a project: no tunesmith.yaml here.", "Pass --project DIR.")
        if settings.backend != "torch":
            raise TunesmithError("--production serves with the torch backend; serve.backend is llamacpp.",
                                 "Serve GGUF exports without --production, or set serve.backend: torch.")
        from tunesmith.feedback.serving import production_models
        from tunesmith.feedback.store import open_project_store

        store = store or open_project_store(project)
        (registry, embeddings), engine = production_models(project, store, sources, settings), None
    else:
        if not sources:
            if project is None:
                raise TunesmithError("nothing to serve: no models given and no tunesmith.yaml here.",
                                     "Pass a run folder or model name, or --project DIR.")
            sources = project_models(project)
        from tunesmith.embeddings.load import split_embedding_sources

        sources, embedding_runs = split_embedding_sources(sources)  # served on /v1/embeddings
        if sources or not embedding_runs:
            registry, engine = _backend(sources, settings)
        else:
            from tunesmith.serve.registry import ModelRegistry

            registry, engine = ModelRegistry([], allow_empty=True), None
        embeddings = embedding_runs or None  # model id → run, for /v1/embeddings
    server = Server(create_app(registry, settings, engine=engine), settings)
    if embeddings is not None:
        from tunesmith.serve.embeddings import attach_embeddings

        attach_embeddings(server.app, embeddings, settings=settings, resolve=getattr(embeddings, "resolve", str))
        server.mounted.append("/v1/embeddings")
    if project is not None:
        _mount_project(server, project, store, finetune_options or {})
    if not server.keyed and settings.host not in LOOPBACK:
        server.warnings.append(f"no API keys set and listening on {settings.host}: anyone who can reach it can "
                               "use it (set serve.api_key_hashes or TUNESMITH_API_KEYS).")
    return server


def _mount_project(server: Server, project, store, finetune_options: Mapping[str, Any]) -> None:
    from tunesmith.feedback.api import attach_feedback
    from tunesmith.feedback.store import open_project_store

    store = store or open_project_store(project)
    server.app.state.feedback_store = store
    attach_feedback(server.app, store)
    server.mounted.append("/v1/feedback")
    if not project.config.finetune_api.enabled:
        return
    if server.settings.backend != "torch":
        server.warnings.append("fine-tuning jobs run, but their models are not served by the llamacpp backend: "
                               "export them as GGUF (or use serve.backend: torch).")
    from tunesmith.finetune_api.mount import mount_finetune_api

    mount_finetune_api(server.app, project, **finetune_options)
    server.mounted += ["/v1/files", "/v1/fine_tuning/jobs"]
