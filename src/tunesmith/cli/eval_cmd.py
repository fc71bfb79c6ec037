"""`tunesmith eval RUN` and `tunesmith compare RUN...`: thin commands over tunesmith.evaluate.compare."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from tunesmith.cli import app
from tunesmith.errors import TunesmithError

console = Console()


def find_project(run_dirs: list[Path], project: Path | None):
    """The project a run belongs to: --project, or the folder two levels above runs/<id>."""
    from tunesmith.config import PROJECT_FILE
    from tunesmith.project import Project

    if project is not None:
        return Project.load(project)
    for run_dir in run_dirs:
        candidate = run_dir.resolve().parent.parent
        if (candidate / PROJECT_FILE).exists():
            return Project.load(candidate)
    raise TunesmithError(f"cannot find the project of {run_dirs[0]} (no tunesmith.yaml two folders up)",
                         "Pass --project PROJECT_FOLDER.")


def _recorded_dataset(run_dir: Path) -> str | None:
    """The dataset a run was trained on, if its run.json says so."""
    path = run_dir / "run.json"
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    dataset = info.get("dataset")
    if isinstance(dataset, dict):
        return dataset.get("path") or dataset.get("version")
    return dataset or info.get("dataset_path") or info.get("dataset_version")


def find_dataset(project, run_dirs: list[Path], data: Path | None):
    """--data, else the version the first run was trained on, else the newest prepared version."""
    from tunesmith.data import load_prepared

    if data is not None:
        return load_prepared(data)
    for run_dir in run_dirs:
        recorded = _recorded_dataset(run_dir)
        if recorded:
            path = Path(recorded)
            return load_prepared(path if path.is_absolute() else project.data_dir / path)
    versions = sorted(project.data_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not versions:
        raise TunesmithError(f"no prepared dataset under {project.data_dir}",
                             "Run `tunesmith data prepare` in the project folder first.")
    return load_prepared(versions[-1].parent)


def run_comparison(run_dirs: list[Path], project: Path | None, data: Path | None, baselines: bool,
                   out: Path | None, overrides: list[str]) -> None:
    from tunesmith.config import apply_overrides
    from tunesmith.evaluate import compare

    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise TunesmithError(f"run folder {run_dir} does not exist", "Pass a folder under runs/.")
    loaded = find_project(run_dirs, project)
    if overrides:
        loaded.config = apply_overrides(loaded.config, overrides)
    dataset = find_dataset(loaded, run_dirs, data)
    from tunesmith.evaluate.compare import held_out_records, split_caveat

    caveat = split_caveat(held_out_records(dataset, loaded.config.evaluation)[0], loaded.config.evaluation.split)
    if caveat:  # the first line, before minutes of generation; Comparison.print repeats it above the numbers
        console.print(f"warning: {caveat}", style="bold yellow", highlight=False)
    comparison = compare(loaded, dataset, run_dirs, baselines=baselines, out_dir=out)
    comparison.print(console)
    console.print(f"JSON: {comparison.report_json}")


_PROJECT = typer.Option(None, "--project", help="Project folder (default: two folders above the run).")
_DATA = typer.Option(None, "--data", help="Prepared dataset folder (default: the one the run was trained on).")
_BASELINES = typer.Option(True, "--baselines/--no-baselines", help="Also evaluate the base model zero- and "
                          "few-shot (the prompt-engineering baseline).")
_OUT = typer.Option(None, "--out", help="Folder for report.{json,html} (default: <first run>/eval).")
_SET = typer.Option(None, "--set", help="Override a config key, e.g. --set evaluation.max_examples=50.")


@app.command("eval")
def eval_command(
    run: Path = typer.Argument(..., help="A run folder, e.g. runs/20261129-101502-lora."),
    project: Path = _PROJECT, data: Path = _DATA, baselines: bool = _BASELINES, out: Path = _OUT,
    set_: list[str] = _SET,
) -> None:
    """Evaluate one run on held-out data against the base model zero-shot and few-shot."""
    run_comparison([run], project, data, baselines, out, set_ or [])


@app.command("compare")
def compare_command(
    runs: list[Path] = typer.Argument(..., help="One or more run folders."),
    project: Path = _PROJECT, data: Path = _DATA, baselines: bool = _BASELINES, out: Path = _OUT,
    set_: list[str] = _SET,
) -> None:
    """Compare runs and baselines on one held-out split: 95% CIs, paired tests and a plain verdict."""
    run_comparison(runs, project, data, baselines, out, set_ or [])
