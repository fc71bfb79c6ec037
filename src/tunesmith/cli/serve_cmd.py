"""`tunesmith serve`: the OpenAI-compatible server for runs, exports and base models."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.config import PROJECT_FILE, ProjectConfig, apply_overrides, load_config


@app.command("serve")
def serve(
    models: list[str] = typer.Argument(None, help="Runs (folder, id, unique part of an id or 'latest'), export "
                                       "folders, model folders or catalog names (ID=PATH picks the id clients send "
                                       "as `model`). Default: every finished run of the project."),
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

    API keys come from serve.api_keys / serve.api_key_hashes and the TUNESMITH_API_KEYS environment variable
    (comma-separated); with none set the server is open, so keep it on 127.0.0.1.
    """
    from tunesmith.project import Project
    from tunesmith.serve import build_server, run
    from tunesmith.serve import hash_key as digest

    if hash_key:
        typer.echo(digest(hash_key))
        return
    has_project = (project / PROJECT_FILE).exists()
    config = load_config(project) if has_project else ProjectConfig()
    config = apply_overrides(config, overrides) if overrides else config
    server = build_server(models or [], project=Project(project.resolve(), config) if has_project else None,
                          settings=config.serve, production=production, host=host, port=port)
    for warning in server.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    if production:
        typer.echo(f"Serving the production model of {config.name} as '{config.name}' on {server.url}")
    if server.mounted:
        typer.echo(f"Also serving {', '.join(server.mounted)} for project {config.name}")
    typer.echo(f"Serving {', '.join(server.models)} on {server.url}"
               f"{' (API keys required)' if server.keyed else ' (no API keys: open to anyone who can reach it)'}")
    run(server.app, server.settings.host, server.settings.port)
