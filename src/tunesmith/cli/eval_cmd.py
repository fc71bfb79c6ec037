"""`tunesmith eval RUN` and `tunesmith compare RUN...`: thin commands over tunesmith.evaluate.compare."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from tunesmith.cli import app
from tunesmith.cli.options import project_option
from tunesmith.errors import TunesmithError

console = Console()


def find_runs(refs: list[str], project: Path | None) -> list:
    """The named runs (ids, unique parts, `latest` or paths), each finished (else one line saying why not)."""
    from tunesmith.runs import resolve_run

    folders = [resolve_run(ref, project) for ref in refs]
    for folder in folders:
        folder.require_finished("evaluate")
    return folders


def find_project(run_folders: list, project: Path | None):
    """The project the runs belong to: --project, else the project their folder is in, else the current one."""
    from tunesmith.config import PROJECT_FILE
    from tunesmith.project import Project

    if project is not None:
        return Project.load(project)
    for folder in run_folders:
        if folder.project_root is not None:
            return Project.load(folder.project_root)
    if Path(PROJECT_FILE).exists():
        return Project.load(".")
    where = run_folders[0].path if run_folders else Path(".")
    raise TunesmithError(f"cannot find the project of {where} (it is not in a project's runs/ folder)",
                         "Pass --project PROJECT_FOLDER.")


def find_dataset(project, run_folders: list, data: Path | None):
    """--data, else the version the first run was trained on, else the newest prepared version."""
    from tunesmith.data import load_prepared

    if data is not None:
        return load_prepared(data)
    for folder in run_folders:
        version = folder.info().dataset_version
        if version:
            if not (project.data_dir / version).is_dir():
                raise TunesmithError(f"run {folder.run_id} was trained on dataset version {version}, which is not "
                                     f"in {project.data_dir}", "Pass --data DATASET_FOLDER, or prepare it again.")
            return load_prepared(project.data_dir / version)
    versions = sorted(project.data_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not versions:
        raise TunesmithError(f"no prepared dataset under {project.data_dir}",
                             "Run `tunesmith data prepare` in the project folder first.")
    return load_prepared(versions[-1].parent)


def run_comparison(refs: list[str], project: Path | None, data: Path | None, baselines: bool,
                   out: Path | None, overrides: list[str]) -> None:
    from tunesmith.config import apply_overrides
    from tunesmith.evaluate import compare

    folders = find_runs(refs, project)
    loaded = find_project(folders, project)
    if overrides:
        loaded.config = apply_overrides(loaded.config, overrides)
    dataset = find_dataset(loaded, folders, data)
    from tunesmith.evaluate.compare import held_out_records, split_caveat

    caveat = split_caveat(held_out_records(dataset, loaded.config.evaluation)[0], loaded.config.evaluation.split)
    if caveat:  # the first line, before minutes of generation; Comparison.print repeats it above the numbers
        console.print(f"warning: {caveat}", style="bold yellow", highlight=False)
    comparison = compare(loaded, dataset, [f.path for f in folders], baselines=baselines, out_dir=out)
    comparison.print(console)
    console.print(f"JSON: {comparison.report_json}")


_PROJECT = project_option("Project folder (default: the project the run is in, else the current folder).", None)
_DATA = typer.Option(None, "--data", help="Prepared dataset folder (default: the one the run was trained on).")
_BASELINES = typer.Option(True, "--baselines/--no-baselines", help="Also evaluate the base model zero- and "
                          "few-shot (the prompt-engineering baseline).")
_OUT = typer.Option(None, "--out", help="Folder for report.{json,html} (default: <first run>/eval).")
_SET = typer.Option(None, "--set", help="Override a config key, e.g. --set evaluation.max_examples=50.")


def run_served(ref: str, url: str, model: str | None, project: Path | None, data: Path | None, out: Path | None,
               overrides: list[str]) -> None:
    """The run's training-time model against the same model deployed at `url`; exits 2 beyond the gate."""
    from tunesmith.config import apply_overrides
    from tunesmith.evaluate.served import compare_served
    from tunesmith.serve.auth import client_key

    folders = find_runs([ref], project)
    loaded = find_project(folders, project)
    if overrides:
        loaded.config = apply_overrides(loaded.config, overrides)
    dataset = find_dataset(loaded, folders, data)
    comparison, check = compare_served(loaded, dataset, folders[0].path, url, model=model,
                                       api_key=client_key(loaded.config.serve), out_dir=out)
    comparison.print(console)
    console.print(f"JSON: {comparison.report_json}")
    if not check.passed:
        raise TunesmithError(check.line(), "Compare the deployment's system prompt, chat template and generation "
                             "settings with the run's inference contract (its model card, `How to prompt it`).")


@app.command("eval")
def eval_command(
    run: str = typer.Argument(..., help="A run: its id, a unique part of it, 'latest' or its folder "
                              "(e.g. runs/20261129-101502-lora)."),
    project: Path = _PROJECT, data: Path = _DATA, baselines: bool = _BASELINES, out: Path = _OUT,
    set_: list[str] = _SET,
    via: str = typer.Option(None, "--via", help="Score the run as deployed at this URL (an OpenAI-compatible "
                            "server, e.g. http://127.0.0.1:8000) against the training-time model, asking it as a "
                            "client would (user messages only); fails beyond evaluation.served_gap."),
    model: str = typer.Option(None, "--model", help="With --via: the model id the server knows the run by "
                              "(default: the run's id)."),
) -> None:
    """Evaluate one run on held-out data against the base model zero-shot and few-shot (or, with --via, check
    the deployed model against the trained one)."""
    if via:
        run_served(run, via, model, project, data, out, set_ or [])
        return
    run_comparison([run], project, data, baselines, out, set_ or [])


@app.command("compare")
def compare_command(
    runs: list[str] = typer.Argument(..., help="One or more runs (ids, unique parts, 'latest' or folders)."),
    project: Path = _PROJECT, data: Path = _DATA, baselines: bool = _BASELINES, out: Path = _OUT,
    set_: list[str] = _SET,
) -> None:
    """Compare runs and baselines on one held-out split: 95% CIs, paired tests and a plain verdict."""
    run_comparison(runs, project, data, baselines, out, set_ or [])
