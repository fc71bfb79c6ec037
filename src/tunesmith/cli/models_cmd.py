"""`tunesmith models`: what can be fine-tuned here."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tunesmith.cli import app
from tunesmith.cli.options import project_option
from tunesmith.cli.tables import console, identifier_column, text_column
from tunesmith.models.catalog import CATALOG


def _size(entry) -> str:
    path = entry.shipped_path()
    if path is None:
        return "not installed"
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return f"{sum(f.stat().st_size for f in files) / 1e6:.0f} MB"


def _project_model(folder: Path) -> str | None:
    from tunesmith.config import PROJECT_FILE, load_config

    return load_config(folder).model.name if (folder / PROJECT_FILE).is_file() else None


models_app = typer.Typer(help="The model catalog; promote, rollback and history manage served versions.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context,
           project: Path = project_option("Project folder: its model is marked ★ (when it has tunesmith.yaml).")
           ) -> None:
    """List the bundled models you can fine-tune (any local Hugging Face folder works too)."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = _project_model(project)
    table = Table(title="Model catalog", show_lines=True)
    for column in ("name", "kind", "parameters", "size on disk"):
        identifier_column(table, column)
    for column in ("license", "good for"):
        text_column(table, column)
    for entry in CATALOG.values():
        table.add_row(entry.name + (" ★" if entry.name == chosen else ""), entry.kind,
                      f"{entry.parameters / 1e6:.0f} M", _size(entry), entry.license, entry.good_for)
    out = console()
    out.print(table)
    if chosen is not None:
        where = "the current folder" if project == Path(".") else str(project)
        mark = " (★)" if chosen in CATALOG else " (a local folder, not in the catalog)"
        out.print(f"The project in {where} uses {chosen}{mark}.", markup=False, highlight=False)
    out.print("Also accepted: the path of any local Hugging Face folder with config.json and "
                  "*.safetensors, e.g. [bold]model.name: ./my-models/qwen2-0.5b[/bold] in tunesmith.yaml.")
