"""`tunesmith init [-p FOLDER]`: record the objective and data of a new project in tunesmith.yaml.

The file holds what the user answered and what the task's recipe picked, nothing else: every other setting
follows the schema's defaults (`tunesmith config` shows them all).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.config import PROJECT_FILE, parse_config
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
    legacy_directory: Path | None = legacy_project_argument(),
    directory: Path = project_option("Folder for the new project (created if missing)."),
    task: str = typer.Option(None, help="chat (answers in a style/with facts), classification (text → label), "
                             "text (continued pretraining) or embedding (search: query → document)."),
    description: str = typer.Option(None, help="What problem the model solves, in a sentence."),
    users: str = typer.Option(None, help="Who will use the model."),
    expected_output: str = typer.Option(None, "--expected-output", help="What a good answer looks like."),
    data: list[str] = typer.Option([], "--data", metavar="PATH", help="A data file or folder (repeatable), "
                                   "relative to the project folder."),
) -> None:
    """Create tunesmith.yaml from a few questions about your objective (asked when not given as options)."""
    directory = pick_project(directory, legacy_directory)
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
    answers = {"task": task, "description": description, "users": users, "expected_output": expected_output}
    config = parse_config({  # only what was answered or the recipe picked: the file records choices
        "name": directory.resolve().name,
        "objective": {key: value for key, value in answers.items() if value},
        "data": {"sources": [{"path": path} for path in data]},
        **RECIPES[task],
    }, "init")
    project = Project.create(directory, config)
    where = "" if directory == Path(".") else f" -p {shlex.quote(str(directory))}"
    typer.echo(f"Wrote {project.root / PROJECT_FILE} (your choices only; `tunesmith config{where}` shows every "
               f"setting). Next: add data files under data.sources, then `tunesmith data prepare{where}` and "
               f"`tunesmith train{where}`.")
