"""`tunesmith runs list|show|compare|delete|export` and `tunesmith reproduce`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tunesmith.cli import app
from tunesmith.cli.options import project_option
from tunesmith.cli.tables import console as _console
from tunesmith.cli.tables import identifier_column, text_column

runs_app = typer.Typer(help="Every training run of the project: list, inspect, compare, delete, export.",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")
PROJECT = project_option()
IDENTIFIERS = ("run", "status", "data", "method")  # list columns a user types or scans for: never wrapped


def _project(folder: Path):
    from tunesmith.project import Project

    return Project.load(folder)


@runs_app.command("list")
def list_command(project_dir: Path = PROJECT) -> None:
    """A table of every run: data version, method, key settings, metrics and time."""
    from tunesmith.experiments import list_runs
    from tunesmith.experiments.table import LIST_COLUMNS, list_row

    records = list_runs(_project(project_dir).runs_dir)
    if not records:
        typer.echo("no runs yet: train one with `tunesmith train`")
        return
    rows = [list_row(record) for record in records]
    shown = [i for i, _ in enumerate(LIST_COLUMNS) if any(row[i] != "-" for row in rows)]  # drop empty columns
    table = Table(title=f"{len(records)} runs")
    for i in shown:
        (identifier_column if LIST_COLUMNS[i] in IDENTIFIERS else text_column)(table, LIST_COLUMNS[i])
    for row in rows:
        table.add_row(*[row[i] for i in shown])
    _console().print(table)


@runs_app.command("show")
def show_command(run: str = typer.Argument(..., help="Run id (or a unique part of it, or 'latest')."),
                 project_dir: Path = PROJECT,
                 predict: bool = typer.Option(True, "--predict/--no-predict", help="Compute the planner's "
                                              "prediction when the run has no plan.json (calibrates once).")) -> None:
    """One run in full: settings, metrics, environment, and the planner's prediction against what happened."""
    from tunesmith.experiments import find_run, load_record
    from tunesmith.experiments.show import detail_rows, prediction_for

    project = _project(project_dir)
    record = load_record(find_run(project.runs_dir, run))
    console = _console()
    table = Table(title=record.run_id, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in detail_rows(record):
        table.add_row(name, value)
    console.print(table)
    rows, note = prediction_for(project, record, compute=predict)
    if rows:
        versus = Table(title="Planner: predicted vs actual")
        for column in ("quantity", "predicted", "actual", "error"):
            versus.add_column(column)
        for row in rows:
            error = "-" if row["error"] is None else f"{row['error']:+.0%}"
            versus.add_row(row["quantity"], f"{row['predicted']:.4g}", f"{row['actual']:.4g}", error)
        console.print(versus)
    if note:
        console.print(f"[dim]{note}[/dim]")


@runs_app.command("compare")
def compare_command(runs: list[str] = typer.Argument(..., help="Two or more run ids."), project_dir: Path = PROJECT,
                    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write the loss "
                                                       "curves PNG (default: compare/<runs>.png).")) -> None:
    """Metrics side by side, the settings that differ, and loss curves overlaid in one PNG."""
    from tunesmith.experiments import differing_settings, find_run, load_record, plot_loss_curves
    from tunesmith.experiments.table import number

    project = _project(project_dir)
    records = [load_record(find_run(project.runs_dir, ref)) for ref in runs]
    table = Table(title="Runs compared")
    text_column(table, "")
    for record in records:
        identifier_column(table, record.run_id)
    names = sorted({k for r in records for k in r.metrics if k not in ("seconds", "tokens_per_second")})
    for name in names:
        table.add_row(name, *[number(r.metrics.get(name)) for r in records])
    for name, values in differing_settings(records).items():
        table.add_row(f"[yellow]{name}[/yellow]", *[json.dumps(v) for v in values])
    console = _console()
    console.print(table)
    path = output or project.root / "compare" / f"{'_vs_'.join(r.run_id for r in records)[:180]}.png"
    console.print(f"loss curves: {plot_loss_curves(records, path)}")


@runs_app.command("delete")
def delete_command(run: str = typer.Argument(..., help="Run id to delete."), project_dir: Path = PROJECT,
                   yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a run folder (weights, checkpoints, metrics) for good."""
    from tunesmith.experiments import delete_run, find_run

    project = _project(project_dir)
    folder = find_run(project.runs_dir, run)
    if not yes:
        typer.confirm(f"Delete {folder}?", abort=True)
    typer.echo(f"deleted {delete_run(project.runs_dir, folder)}")


@runs_app.command("export")
def export_command(run: str = typer.Argument(..., help="Run id to export."), project_dir: Path = PROJECT,
                   output: Path | None = typer.Option(None, "--output", "-o", help="Archive path (default: "
                                                      "exports/<run>.tar.gz)."),
                   with_weights: bool = typer.Option(False, "--with-weights", help="Also pack the trained "
                                                     "adapter/model and tokenizer.")) -> None:
    """One .tar.gz with config, data version, metrics, eval report and environment, reproducible elsewhere."""
    from tunesmith.experiments import export_run

    path = export_run(_project(project_dir), run, output, with_weights)
    typer.echo(f"{path} ({path.stat().st_size / 1e6:.1f} MB); reproduce it with `tunesmith reproduce {path}`")


@app.command("reproduce")
def reproduce_command(run: str = typer.Argument(..., help="Run id, or an archive from `tunesmith runs export`."),
                      project_dir: Path = PROJECT,
                      tolerance: float = typer.Option(0.0, "--tolerance", min=0, help="Allowed relative difference "
                                                      "per metric (0: bit-identical).")) -> None:
    """Train a run again from its recorded config and data version; report whether the metrics match."""
    from tunesmith.experiments import import_archive, reproduce
    from tunesmith.experiments.table import number

    if run.endswith((".tar.gz", ".tgz")) and Path(run).is_file():
        folder, run = import_archive(Path(run), Path(run).with_name(Path(run).name.split(".")[0] + "-reproduce"))
        project_dir = folder
    result = reproduce(_project(project_dir), run, tolerance)
    table = Table(title=f"{result.original.name} → {result.reproduced.name}")
    for column in ("metric", "original", "reproduced", "match"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(row["metric"], number(row["original"], 10), number(row["reproduced"], 10),
                      "[green]yes[/green]" if row["match"] else "[red]no[/red]")
    console = _console()
    console.print(table)
    for line in result.curve_mismatches[:5] + [f"environment: {n}" for n in result.environment_notes]:
        console.print(f"[yellow]{line}[/yellow]")
    console.print("[green]identical metrics[/green]" if result.identical else "[red]metrics differ[/red]")
    if not result.identical:
        raise typer.Exit(1)
