"""`tunesmith init DIR`: record the objective and data of a new project in tunesmith.yaml."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.config import PROJECT_FILE, ProjectConfig
from tunesmith.config.objective import ObjectiveConfig
from tunesmith.errors import TunesmithError
from tunesmith.project import Project

# Recipes pick a sensible starting model and method per task; every value stays editable in the file.
RECIPES = {
    "chat": {"model": {"name": "smollm2-135m-instruct"}, "method": {"name": "lora"}},
    "classification": {"model": {"name": "minilm-l6"}, "method": {"name": "full"}},
    "text": {"model": {"name": "smollm2-135m-instruct"}, "method": {"name": "lora"}},
    "embedding": {"model": {"name": "minilm-l6", "max_length": 256}, "method": {"name": "full"}},
}


@app.command("init")
def init(
    directory: Path = typer.Argument(..., help="Folder for the new project (created if missing)."),
    task: str = typer.Option(None, help="chat (answers in a style/with facts), classification (text → label), "
                             "text (continued pretraining) or embedding (search: query → document)."),
    description: str = typer.Option(None, help="What problem the model solves, in a sentence."),
    users: str = typer.Option(None, help="Who will use the model."),
    expected_output: str = typer.Option(None, "--expected-output", help="What a good answer looks like."),
    data: list[str] = typer.Option([], "--data", help="A data file or folder (repeatable), relative to DIRECTORY."),
) -> None:
    """Create tunesmith.yaml from a few questions about your objective (asked when not given as options)."""
    if (directory / PROJECT_FILE).exists():
        raise TunesmithError(f"{directory / PROJECT_FILE} already exists.",
                             "Edit it, or choose a new folder.")
    field = ObjectiveConfig.model_fields
    task = task or typer.prompt(f"Task ({field['task'].description})", default="chat")
    if task not in RECIPES:
        raise TunesmithError(f"unknown task '{task}'.", f"Choose one of: {', '.join(RECIPES)}.")
    description = description if description is not None else typer.prompt(field["description"].description)
    users = users if users is not None else typer.prompt(field["users"].description, default="")
    if expected_output is None:
        expected_output = typer.prompt(field["expected_output"].description, default="")
    config = ProjectConfig.model_validate({
        "name": directory.resolve().name,
        "objective": {"task": task, "description": description, "users": users,
                      "expected_output": expected_output},
        "data": {"sources": [{"path": path} for path in data]},
        **RECIPES[task],
    })
    project = Project.create(directory, config)
    typer.echo(f"Wrote {project.root / PROJECT_FILE}. Next: add data files under data.sources, then "
               f"`tunesmith data prepare {directory}` and `tunesmith train {directory}`.")
