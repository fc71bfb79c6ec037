"""`tunesmith plan`: peak memory, time and cost of training the project, before training it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option


@app.command("plan")
def plan_command(
    legacy_project: Path | None = legacy_project_argument(),
    project_dir: Path = project_option(),
    target: str | None = typer.Option(None, "--target", help="Plan for GPUs instead of this machine, e.g. a100, "
                                      "a100x2, h100x8, l4, t4."),
    price_per_hour: float | None = typer.Option(None, "--price-per-hour", min=0, help="Hourly price of the "
                                                "target, to estimate the cost."),
    overrides: list[str] = typer.Option([], "--set", help="Plan with a changed setting, e.g. "
                                        "--set training.batch_size=4 (repeatable)."),
    recalibrate: bool = typer.Option(False, "--recalibrate", help="Measure this machine again (~20 s)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    explain_memory: bool = typer.Option(False, "--explain-memory", help="Break the peak memory down: each "
                                        "component, what it is and the setting that lowers it."),
) -> None:
    """Predict peak memory, time per epoch, total time and cost; recommend settings that fit."""
    from tunesmith.config import apply_overrides
    from tunesmith.data import prepare
    from tunesmith.plan import calibrate, plan
    from tunesmith.plan.record import token_counts
    from tunesmith.project import Project

    project = Project.load(pick_project(project_dir, legacy_project))
    config = apply_overrides(project.config, overrides) if overrides else project.config
    dataset = prepare(project)
    records = dataset.split("train")
    lengths, targets, labels = token_counts(config, records)
    recipe = None
    if config.objective.task == "classification":  # which recipe train will use, and why
        from tunesmith.embeddings.fewshot import choose_recipe, contrastive_workload

        recipe = choose_recipe(config, records)
        if recipe.recipe == "pooled":  # as training records it: the resolution then knows the head starts fitted
            config = config.model_copy(update={"few_shot": config.few_shot.model_copy(update={"recipe": "pooled"})})
        if recipe.recipe == "embedding":  # its cost is the contrastive stage: both texts of every pair
            config, lengths = contrastive_workload(config, records, lengths)
            targets = [1] * len(lengths)
    calibration = None if target else calibrate(force=recalibrate)
    result = plan(config, len(lengths), lengths, target=target, target_lengths=targets, labels=labels,
                  price_per_hour=price_per_hour, calibration=calibration,
                  validation_examples=len(dataset.split("validation")))
    if as_json:
        data = result.to_json()
        if recipe is not None:
            data["recipe"] = {"name": recipe.recipe, "reason": recipe.reason}
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if recipe is not None:
        Console(soft_wrap=True).print(f"Recipe: {recipe.recipe} ({recipe.reason})", markup=False, highlight=False)
    _render(result)
    if explain_memory:
        _render_memory(result)


def _render_memory(result) -> None:
    from tunesmith.plan.report import gigabytes

    table = Table(title="Where the peak memory goes (the widest micro-batch)")
    for column, style in (("component", "bold"), ("size", None), ("what it is", None), ("what lowers it", None)):
        table.add_column(column, style=style, overflow="fold")
    for row in result.memory_explained:
        table.add_row(row["component"], gigabytes(row["bytes"]), row["what"], row["lever"])
    table.add_row("peak", gigabytes(result.estimate.peak_memory), "the sum: the process's predicted peak RSS", "",
                  style="bold")
    Console().print(table)


def _render(result) -> None:
    from tunesmith.plan.report import duration, gigabytes, setting_text, summary_rows

    console = Console()
    table = Table(title="Training plan", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in summary_rows(result):
        table.add_row(name, value)
    console.print(table)
    if result.recommendations:
        advice = Table(title="Settings that fit, fastest first (same effective batch)")
        for column in ("setting", "peak memory", "per epoch"):
            advice.add_column(column)
        for estimate in result.recommendations:
            advice.add_row(setting_text(estimate), gigabytes(estimate.peak_memory),
                           duration(estimate.seconds_per_epoch))
        console.print(advice)
    elif not result.fits:
        console.print("[bold red]No setting fits in memory[/bold red]: try a smaller model or a GPU target.")
    for item in result.larger_models:
        console.print(f"[bold]{item['model']}[/bold] ({item['parameters'] / 1e9:.2f} B): {item['advice']}")
    for note in result.notes:
        console.print(f"[dim]{note}[/dim]")
