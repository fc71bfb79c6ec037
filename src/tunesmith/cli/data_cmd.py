"""`tunesmith data inspect|validate|prepare|preview|report`: thin commands over tunesmith.data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from tunesmith.cli import app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option

data_app = typer.Typer(help="Inspect, validate, prepare and report on training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()


def _in_project(path: Path, project: Path) -> Path:
    """A relative data path is read from the project folder when it is there, else from the current folder."""
    inside = project / path
    return inside if not path.is_absolute() and project != Path(".") and inside.exists() else path


def _project(folder: Path, overrides: list[str] | None = None):
    from tunesmith.config import apply_overrides
    from tunesmith.project import Project

    project = Project.load(folder)
    if overrides:
        project.config = apply_overrides(project.config, overrides)
    return project


@data_app.command("inspect")
def inspect(
    file: Path = typer.Argument(..., help="A data file or folder."),
    format: str = typer.Option("auto", "--format", help="Force a format instead of detecting it."),
    task: str = typer.Option(None, "--task", help="chat, classification or text (default: from the format)."),
    column: list[str] = typer.Option(None, "--column", help="Rename a column, theirs=ours (e.g. body=text)."),
    project: Path = project_option("Project folder: a relative FILE is read from it first."),
) -> None:
    """Say which format a file is in and show 3 converted examples."""
    from tunesmith.data.summary import print_issues
    from tunesmith.data.validate import inspect_file
    from tunesmith.errors import DataError

    if any("=" not in item for item in column or []):
        raise DataError("--column takes theirs=ours", "Example: --column body=text --column category=label")
    columns = dict(item.split("=", 1) for item in column or [])
    result = inspect_file(_in_project(file, project), format, task, columns)
    console.print(Text.assemble((result.path, "bold"), f": {result.kind} file, format ",
                                (result.format, "bold"), f" ({result.rows_sampled} rows sampled)"))
    for record in result.examples:
        console.print_json(json.dumps(record, ensure_ascii=False))
    if result.issues:
        console.print(f"{len(result.issues)} issue(s) in the sampled rows:")
        print_issues(console, result.issues, 20)


@data_app.command("validate")
def validate(
    target: Path | None = typer.Argument(None, metavar="FILE", help="One data file or folder to check on its "
                                         "own (default: every source of the project)."),
    project: Path = project_option(),
    task: str = typer.Option(None, "--task", help="For a single file: chat, classification or text."),
    limit: int = typer.Option(100, help="Show at most this many issues."),
) -> None:
    """Check every source in one pass and list every problem (file, line, field, what to do); exit 2 if
    there are errors, like every other user error."""
    from tunesmith.config import PROJECT_FILE
    from tunesmith.data.summary import print_issues
    from tunesmith.data.validate import validate_file, validate_project

    target = project if target is None else _in_project(target, project)
    is_project = target.name == PROJECT_FILE or (target / PROJECT_FILE).exists() or target == Path(".")
    # anything else is a data file or folder checked on its own
    result = validate_project(_project(target)) if is_project else validate_file(target, task)
    print_issues(console, result.issues, limit)
    console.print(f"{result.records} valid record(s), {result.error_count} error(s), "
                  f"{sum(i.count for i in result.warnings)} warning(s).")
    if result.errors:
        raise typer.Exit(2)


@data_app.command("prepare")
def prepare(
    legacy_project: Path | None = legacy_project_argument(),
    project: Path = project_option(),
    tokenizer: bool = typer.Option(True, "--tokenizer/--no-tokenizer", help="Measure tokens with the model's "
                                   "tokenizer and chat template."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a setting, e.g. data.test_share=0.1."),
) -> None:
    """Prepare a dataset version: validate, clean, deduplicate, split, write data/<version>/."""
    from tunesmith.data import prepare as run_prepare
    from tunesmith.data.summary import print_summary
    from tunesmith.progress import status

    loaded = _project(pick_project(project, legacy_project), overrides)
    tok = None
    if tokenizer:
        from tunesmith.models.loading import load_tokenizer

        with status(f"loading tokenizer of {loaded.config.model.name}"):
            tok = load_tokenizer(loaded.config.model.name, loaded.config.model.trust_remote_code)
    with status("preparing data"):
        dataset = run_prepare(loaded, tok)
    print_summary(dataset, console)


def _current(project: Path, overrides: list[str] | None = None):
    from tunesmith.data import dataset_version, load_prepared
    from tunesmith.errors import DataError

    loaded = _project(project, overrides)
    version, _ = dataset_version(loaded)
    folder = loaded.data_dir / version
    if not (folder / "manifest.json").exists():
        raise DataError(f"the data has not been prepared yet (version {version})", "Run `tunesmith data prepare`.")
    return loaded, load_prepared(folder)


@data_app.command("preview")
def preview(
    legacy_project: Path | None = legacy_project_argument(),
    project: Path = project_option(),
    split: str = typer.Option("train", help="train, validation or test."),
    index: int = typer.Option(0, help="Which record of the split."),
    masks: bool = typer.Option(False, "--masks", help="Highlight the tokens the model is trained on."),
) -> None:
    """Print one prepared record; with --masks, its tokens with the trained ones highlighted."""
    from tunesmith.errors import DataError

    loaded, dataset = _current(pick_project(project, legacy_project))
    records = dataset.split(split)
    if not 0 <= index < len(records):
        raise DataError(f"split {split} has {len(records)} record(s); index {index} is out of range",
                        "Pick --index between 0 and the split size minus one.")
    record = records[index]
    if not masks:
        console.print_json(json.dumps(record, ensure_ascii=False))
        return
    if "messages" not in record:
        raise DataError("--masks applies to chat data", "Classification and text records train on every token.")
    from tunesmith.data.tokens import token_mask
    from tunesmith.models.loading import load_tokenizer

    tok = load_tokenizer(loaded.config.model.name, loaded.config.model.trust_remote_code)
    ids, mask = token_mask(record, tok)
    text = Text()
    for token_id, trained in zip(ids, mask, strict=True):
        text.append(tok.decode([token_id]), style="bold black on green" if trained else "dim")
    console.print(text)
    console.print(f"[green]trained[/green]: {sum(mask)} of {len(mask)} tokens ({sum(mask) / max(len(mask), 1):.0%})")


@data_app.command("report")
def report(legacy_project: Path | None = legacy_project_argument(), project: Path = project_option()) -> None:
    """Print the summary of the prepared data and (re)write data/<version>/report.html."""
    from tunesmith.data.report import write_report
    from tunesmith.data.summary import print_summary

    _, dataset = _current(pick_project(project, legacy_project))
    write_report(dataset)
    print_summary(dataset, console)
