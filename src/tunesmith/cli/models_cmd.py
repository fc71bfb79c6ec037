"""`tunesmith models`: what can be fine-tuned here."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.cli import app
from tunesmith.models.catalog import CATALOG


def _size(entry) -> str:
    path = entry.shipped_path()
    if path is None:
        return "not installed"
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return f"{sum(f.stat().st_size for f in files) / 1e6:.0f} MB"


models_app = typer.Typer(help="The model catalog; promote, rollback and history manage served versions.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context) -> None:
    """List the bundled models you can fine-tune (any local Hugging Face folder works too)."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="Model catalog", show_lines=True)
    for column in ("name", "kind", "parameters", "size on disk", "license", "good for"):
        table.add_column(column, overflow="fold")
    for entry in CATALOG.values():
        table.add_row(entry.name, entry.kind, f"{entry.parameters / 1e6:.0f} M", _size(entry),
                      entry.license, entry.good_for)
    console = Console()
    console.print(table)
    console.print("Also accepted: the path of any local Hugging Face folder with config.json and "
                  "*.safetensors, e.g. [bold]model.name: ./my-models/qwen2-0.5b[/bold] in tunesmith.yaml.")
