"""`tunesmith studio`: the local web UI (needs the `studio` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.errors import TunesmithError


@app.command("studio")
def studio(
    legacy_project: Path | None = legacy_project_argument(),
    project: Path = project_option("Project folder (created by the Objective page if empty)."),
    port: int = typer.Option(7860, "--port", help="Local port of the web page."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on; keep 127.0.0.1 unless you "
                             "want other machines to reach it."),
) -> None:
    """Open the studio: every step from objective to deployment in your browser."""
    if importlib.util.find_spec("gradio") is None:
        raise TunesmithError("the studio needs Gradio, which is not installed.",
                             "Install it with `pip install 'tunesmith[studio]'`.")
    from tunesmith.project import ensure_writable
    from tunesmith.studio import launch_studio

    project = pick_project(project, legacy_project)
    root = ensure_writable(project.expanduser().resolve())
    typer.echo(f"tunesmith studio for {root}: open http://{host}:{port} (Ctrl+C to stop)")
    launch_studio(root, port=port, host=host, block=True)
