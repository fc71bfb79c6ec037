"""`tunesmith serve`: the OpenAI-compatible server for runs, exports and base models."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.config import PROJECT_FILE, ProjectConfig, apply_overrides, load_config
from tunesmith.errors import TunesmithError


def _project_models(root: Path, config: ProjectConfig) -> list[str]:
    runs = sorted(p for p in (root / "runs").glob("*") if (p / "run.json").exists()
                  and ((p / "adapter").is_dir() or (p / "model").is_dir()))
    return [str(p) for p in runs] or [config.model.name]


def _attach_project_apis(server, root: Path, config: ProjectConfig) -> list[str]:
    """Mount the project's feedback endpoint and fine-tuning API behind the same keys."""
    from fastapi import Depends

    from tunesmith.feedback.serving import attach_project_feedback
    from tunesmith.project import Project

    attach_project_feedback(server, root, config.feedback, server.state.config)
    mounted = ["/v1/feedback"]
    if config.finetune_api.enabled:
        from tunesmith.finetune_api import create_finetune_router

        server.include_router(create_finetune_router(Project.load(root), dependencies=[Depends(server.state.auth)]))
        mounted += ["/v1/files", "/v1/fine_tuning/jobs"]
    return mounted


@app.command("serve")
def serve(
    models: list[str] = typer.Argument(None, help="Run folders, export folders, model folders or catalog names "
                                       "(ID=PATH picks the id clients send as `model`). Default: every finished "
                                       "run of the project."),
    project: Path = typer.Option(Path("."), "--project", "-p", help="Project folder (its `serve` section is used)."),
    host: str = typer.Option(None, help="Interface to listen on (default: serve.host)."),
    port: int = typer.Option(None, help="TCP port (default: serve.port)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. --set serve.max_batch_size=16."),
    hash_key: str = typer.Option(None, "--hash-key", help="Print the SHA-256 digest of KEY for "
                                 "serve.api_key_hashes, then exit."),
    production: bool = typer.Option(False, "--production", help="Serve the project's production model from the "
                                    "registry under the project's name; `tunesmith models promote/rollback` "
                                    "take effect without a restart."),
) -> None:
    """Serve models behind an OpenAI-compatible API (chat, completions, classifications, /metrics).

    API keys come from serve.api_keys / serve.api_key_hashes or the TUNESMITH_API_KEYS environment variable
    (comma-separated); with none set the server is open, so keep it on 127.0.0.1.
    """
    from tunesmith.serve import create_app, run
    from tunesmith.serve import hash_key as digest

    if hash_key:
        typer.echo(digest(hash_key))
        return
    has_project = (project / PROJECT_FILE).exists()
    config = load_config(project) if has_project else ProjectConfig()
    config = apply_overrides(config, overrides) if overrides else config
    settings = config.serve
    env_keys = [k.strip() for k in os.environ.get("TUNESMITH_API_KEYS", "").split(",") if k.strip()]
    updates = {"api_keys": settings.api_keys + env_keys}
    if host:
        updates["host"] = host
    if port:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    sources = list(models or [])
    if production:
        if not has_project:
            raise TunesmithError("--production needs a project: no tunesmith.yaml here.", "Pass --project DIR.")
        from tunesmith.feedback.serving import create_production_app
        from tunesmith.project import Project

        server = create_production_app(Project(project.resolve(), config), extra_models=sources)
        typer.echo(f"Serving the production model of {config.name} as '{config.name}' (and /v1/feedback) on "
                   f"http://{settings.host}:{settings.port}/v1")
        run(server, settings.host, settings.port)
        return
    if not sources:
        if not has_project:
            raise TunesmithError("nothing to serve: no models given and no tunesmith.yaml here.",
                                 "Pass a run folder or model name, or --project DIR.")
        sources = _project_models(project.resolve(), config)
    if settings.backend == "llamacpp":
        from tunesmith.serve.llamacpp import create_llamacpp_app

        server = create_llamacpp_app(sources, settings)
    else:
        server = create_app(sources, settings)
    if has_project and settings.backend == "torch":
        mounted = _attach_project_apis(server, project.resolve(), config)
        typer.echo(f"Also serving {', '.join(mounted)} for project {config.name}")
    if not settings.api_keys and not settings.api_key_hashes and settings.host not in {"127.0.0.1", "localhost"}:
        typer.secho(f"warning: no API keys set and listening on {settings.host}: anyone who can reach it can use it.",
                    fg=typer.colors.YELLOW, err=True)
    typer.echo(f"Serving {', '.join(server.state.registry.sources)} on http://{settings.host}:{settings.port}/v1")
    run(server, settings.host, settings.port)
