"""`tunesmith train`: prepare (or reuse) the dataset version, then train the configured method."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.config import apply_overrides, parse_config
from tunesmith.config.presets import PRESETS, get_preset, merge, preset_overrides


@app.command("train")
def train_command(
    legacy_project: Path | None = legacy_project_argument(),
    project_dir: Path = project_option(),
    resume: bool = typer.Option(False, "--resume", help="Continue the newest run of this method from its last "
                                "complete checkpoint."),
    run: str | None = typer.Option(None, "--run", metavar="RUN", help="The run to continue (implies --resume): its "
                                   "id, a unique part of it, 'latest' or its folder."),
    preset: str | None = typer.Option(None, "--preset", help=f"{', '.join(PRESETS)}: settings derived from your "
                                      "data size and this machine."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. --set training.epochs=2 "
                                        "(repeatable)."),
) -> None:
    """Fine-tune the project's model on its prepared data; writes runs/<id>/."""
    from tunesmith.data import prepare
    from tunesmith.project import Project
    from tunesmith.runs import resolve_run
    from tunesmith.train import train
    from tunesmith.train.distributed import World

    project_dir = pick_project(project_dir, legacy_project)
    if preset is not None:
        get_preset(preset)  # an unknown name fails before any data is prepared
    project = Project.load(project_dir)
    resume_dir = resolve_run(run, project.root).path if run is not None else None  # before any data is prepared
    world = World.from_env()  # under torchrun: the main process prepares, the others reuse its version
    if world.main:
        dataset = prepare(project)
    world.barrier()
    if not world.main:
        dataset = prepare(project)
    config = project.config
    if preset is not None:
        extra = preset_overrides(preset, len(dataset.split("train")), os.cpu_count() or 1, config.method.name)
        config = parse_config(merge(config.model_dump(mode="json"), extra), f"preset {preset}")
    if overrides:
        config = apply_overrides(config, overrides)
    project.config = config  # this run only: tunesmith.yaml is left as the user wrote it
    result = train(project, dataset, resume=(resume_dir or True) if resume or resume_dir else None)
    metrics = result.metrics
    summary = f"{result.status}: {result.run_dir}"
    if metrics.get("val_loss") is not None:
        summary += f"  validation loss {metrics['val_loss']:.4f}"
    if "val_accuracy" in metrics:
        summary += f"  accuracy {metrics['val_accuracy']:.1%}"
    if world.main:
        typer.echo(summary)
    if result.status == "interrupted":
        raise typer.Exit(130)
