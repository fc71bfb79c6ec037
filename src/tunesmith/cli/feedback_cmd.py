"""`tunesmith monitor`, `tunesmith improve`, `tunesmith feedback import` and `tunesmith models
promote|rollback|history`: thin shells over tunesmith.feedback."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.cli import app
from tunesmith.cli.models_cmd import models_app
from tunesmith.cli.options import legacy_project_argument, pick_project, project_option
from tunesmith.cli.tables import identifier_column, text_column
from tunesmith.errors import TunesmithError

feedback_app = typer.Typer(help="Feedback collected outside the server.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
console = Console()
PROJECT_OPTION = project_option()


def _open(project_dir: Path):
    from tunesmith.feedback import open_project_store
    from tunesmith.project import Project

    project = Project.load(project_dir)
    return project, open_project_store(project)


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)\s*([mhd])", text.strip())
    if not match:
        raise TunesmithError(f"--since '{text}' is not a duration", "Use minutes, hours or days: 30m, 24h, 7d.")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return now - dt.timedelta(**{unit: int(match.group(1))})


@app.command("monitor")
def monitor(
    legacy_project: Path | None = legacy_project_argument(),
    project_dir: Path = PROJECT_OPTION,
    since: str = typer.Option(None, "--since", help="Only the last 30m / 24h / 7d."),
    out: Path = typer.Option(None, "--out", help="Report folder (default: <project>/monitor)."),
    strict: bool = typer.Option(False, "--strict", help="Exit with code 1 when a warning fires (for cron)."),
) -> None:
    """Request volume, latency, errors, feedback and input drift, with an HTML report and warnings."""
    from tunesmith.feedback import apply_retention
    from tunesmith.feedback.monitor_report import write_monitor

    project, store = _open(pick_project(project_dir, legacy_project))
    apply_retention(store)
    summary, report = write_monitor(store, out or project.root / "monitor", project.root, _since(since))
    table = Table(title="Production monitor")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in {**summary.totals, "length drift (KS)": summary.drift.length_ks,
                       "vocabulary drift (JS)": summary.drift.vocabulary_js}.items():
        table.add_row(key, "–" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value))
    console.print(table)
    if summary.versions:
        versions = Table(title="By model version")
        for column in ("version", "requests", "feedback", "mean score"):
            versions.add_column(column, justify="right")
        for name, row in summary.versions.items():
            score = "–" if row["mean_score"] is None else f"{row['mean_score']:.2f}"
            versions.add_row(name, str(row["requests"]), str(row["feedback"]), score)
        console.print(versions)
    for warning in summary.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    console.print(f"report: {report}")
    if strict and summary.warnings:
        raise typer.Exit(1)


@app.command("improve")
def improve_command(
    legacy_project: Path | None = legacy_project_argument(),
    project_dir: Path = PROJECT_OPTION,
    when: str = typer.Option(None, "--when", help='Only run if this holds, e.g. "feedback>=50" or "feedback>=20 '
                             'and days>=7" (feedback: new corrections; ratings: new feedback of any kind; days: '
                             'since the last promotion). Safe from cron: a lock stops overlapping runs.'),
    objective: str = typer.Option(None, "--objective", help="auto, sft, dpo or kto (default: feedback.objective): "
                                  "what the feedback trains; auto picks from what the store holds and says why."),
) -> None:
    """Retrain on feedback; promote the candidate only if it beats production significantly."""
    from tunesmith.feedback.improve import condition_values, improve
    from tunesmith.feedback.schedule import ImproveLocked, condition_met, parse_condition

    clauses = parse_condition(when) if when else []
    project, store = _open(pick_project(project_dir, legacy_project))
    if clauses:
        met, why = condition_met(clauses, condition_values(store))
        if not met:
            console.print(f"not improving yet: {why}")
            return
    try:
        result = improve(project, store, objective)
    except ImproveLocked as err:
        if not clauses:
            raise
        console.print(f"not improving now: {err.message}")  # a scheduled run just tries again next time
        return
    colour = {"promoted": "green", "kept": "yellow"}.get(result.outcome, "white")
    console.print(f"[{colour}]{result.outcome}[/{colour}]: {result.reason}")
    if result.candidate is not None:
        console.print(f"candidate v{result.candidate.id} ({result.candidate.run_path}) on dataset "
                      f"{result.dataset_version}; production was v{result.production.id}", markup=False)
        if result.candidate.scores.get("report"):
            console.print(f"comparison report: {result.candidate.scores['report']}", markup=False)


@feedback_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="JSONL or CSV with response_id, rating, correction, label, comment "
                                "and the prompt (messages, or prompt/input/text)."),
    project_dir: Path = PROJECT_OPTION,
) -> None:
    """Import feedback from a file into the project's store (validated first: all rows or none)."""
    from tunesmith.feedback import import_feedback

    _, store = _open(project_dir)
    count = import_feedback(store, file)
    console.print(f"imported {count} feedback rows into {store.url}")


def _describe(info) -> str:
    lineage = f"run {info.run_id}, base {info.base_model or '?'}, data {info.dataset_version or '?'}"
    parent = f", from v{info.parent_id}" if info.parent_id else ""
    return f"v{info.id} [{info.stage}] ({lineage}{parent})"


@models_app.command("promote")
def promote_command(
    ref: str = typer.Argument(..., help="A version (v3), or a run (registered if new): its id, a unique part of "
                              "it, 'latest' or its folder (relative to the project, else to here)."),
    project_dir: Path = PROJECT_OPTION,
    reason: str = typer.Option("promoted by hand", "--reason", help="Why, for the history."),
) -> None:
    """Put a model version in production; the current one is archived. Servers switch within seconds."""
    from tunesmith.feedback import promote
    from tunesmith.runs import resolve_run

    project, store = _open(project_dir)
    target = ref if re.fullmatch(r"[vV]?\d+", ref.strip()) else resolve_run(ref, project.root).path
    console.print(f"in production: {_describe(promote(store, target, reason))}", markup=False)


@models_app.command("rollback")
def rollback_command(
    project_dir: Path = PROJECT_OPTION,
    reason: str = typer.Option("rolled back by hand", "--reason", help="Why, for the history."),
) -> None:
    """Put the previous production version back."""
    from tunesmith.feedback import rollback

    _, store = _open(project_dir)
    console.print(f"in production: {_describe(rollback(store, reason))}", markup=False)


@models_app.command("history")
def history_command(project_dir: Path = PROJECT_OPTION) -> None:
    """Every registered version with its lineage, scores and stage changes, newest first."""
    from tunesmith.feedback import history

    _, store = _open(project_dir)
    entries = history(store)
    if not entries:
        console.print("no model versions yet: `tunesmith models promote runs/<run-id>` registers one")
        return
    table = Table(title="Model versions (newest first)")
    for column in ("version", "stage", "run", "dataset", "parent", "evaluation"):
        (text_column if column == "evaluation" else identifier_column)(table, column)
    for info, _ in entries:
        scores = info.scores
        evaluation = (f"{scores['metric']} {scores['gain']:+.3f}, p={scores['p_value']:.3f}"
                      if {"metric", "gain", "p_value"} <= set(scores) else "")
        table.add_row(f"v{info.id}", info.stage, info.run_id, info.dataset_version or "",
                      f"v{info.parent_id}" if info.parent_id else "", evaluation)
    console.print(table)
    changes = Table(title="Stage changes")
    for column in ("when (UTC)", "version", "change", "reason"):
        changes.add_column(column, overflow="fold")
    events = sorted((e for _, evs in entries for e in evs), key=lambda e: e.id)
    for event in events:
        changes.add_row(f"{event.at:%Y-%m-%d %H:%M:%S}", f"v{event.model_version_id}",
                        f"{event.from_stage or 'new'} → {event.to_stage}", event.reason)
    console.print(changes)
