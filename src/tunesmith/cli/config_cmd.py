"""`tunesmith config`: show the schema or validate a project file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.config import ProjectConfig, load_config


@app.command("config")
def config(
    legacy_project: Path | None = legacy_project_argument(),
    project: Path = project_option("Project folder, or its tunesmith.yaml, to validate."),
    schema: bool = typer.Option(False, "--schema", help="Print the JSON schema of tunesmith.yaml."),
) -> None:
    """Validate a project file and print it with every default filled in."""
    if schema:
        typer.echo(json.dumps(ProjectConfig.model_json_schema(), indent=2))
        return
    resolved = load_config(pick_project(project, legacy_project))
    typer.echo(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False))
