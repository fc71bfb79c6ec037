"""`tunesmith tune`: hyperparameter search within a budget; every trial is a normal run."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.cli.tables import identifier_column, text_column


@app.command("tune")
def tune_command(
    legacy_project: Path | None = legacy_project_argument(),
    project_dir: Path = project_option(),
    trials: int | None = typer.Option(None, "--trials", min=1, help="Trials to finish in total (default: "
                                      "tune.trials); earlier sessions count."),
    timeout_minutes: float | None = typer.Option(None, "--timeout-minutes", min=0, help="Stop starting trials "
                                                 "after this long (default: tune.timeout_minutes)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. --set tune.max_steps_per_trial"
                                        "=20 (repeatable)."),
) -> None:
    """Search the settings in tune.search_space with Optuna, pruning bad trials; resumable."""
    from tunesmith.config import apply_overrides
    from tunesmith.experiments import tune
    from tunesmith.experiments.table import number
    from tunesmith.project import Project

    project = Project.load(pick_project(project_dir, legacy_project))
    if overrides:
        project.config = apply_overrides(project.config, overrides)
    result = tune(project, trials, timeout_minutes)
    table = Table(title=f"search '{result.study_name}': {result.completed} completed, {result.pruned} pruned, "
                        f"{result.failed} failed")
    for column in ("trial", "state", result.metric, "settings", "run"):
        (identifier_column if column in ("trial", "state", "run") else text_column)(table, column)
    for row in result.trials:
        best = row["run"] is not None and row["run"] == result.best_run
        table.add_row(str(row["trial"]) + (" ★" if best else ""), row["state"].lower(), number(row["value"]),
                      json.dumps(row["params"]), row["run"] or "-")
    console = Console()
    console.print(table)
    if result.best_value is None:
        console.print("[red]no trial completed[/red]")
        raise typer.Exit(1)
    console.print(f"best {result.metric} {result.best_value:.4f} with {json.dumps(result.best_params)} "
                  f"(run {result.best_run})")
    console.print(f"best config: {result.best_config_path}")
    for plot in result.plots:
        console.print(f"plot: {plot}")
