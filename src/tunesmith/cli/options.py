"""How every command names a project and a run, declared once.

The project is `-p/--project FOLDER` (default: the current folder) in every command. Commands that used to
take it as their first argument still accept that form as a hidden, deprecated alias (`tunesmith train DIR`),
so scripts keep working. A run is its id, a unique part of one, `latest` or its folder, always resolved by
`tunesmith.runs.resolve_run` against the project.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.errors import TunesmithError

PROJECT_HELP = "Project folder (with tunesmith.yaml)."
RUN_HELP = "A run: its id, a unique part of it, 'latest' or its folder (see `tunesmith runs list`)."


def project_option(help: str = PROJECT_HELP, default: Path | None = Path(".")):
    return typer.Option(default, "--project", "-p", metavar="FOLDER", help=help)


def legacy_project_argument():
    """The old positional project folder: still accepted, no longer shown."""
    return typer.Argument(None, hidden=True, metavar="PROJECT", help="Deprecated: use -p/--project.")


def pick_project(option: Path | None, legacy: Path | None, default: Path | None = Path(".")) -> Path | None:
    """The project folder from -p, or from the deprecated positional form; both at once is an error."""
    if legacy is None:
        return option
    if option is not None and option != default and Path(option) != Path(legacy):
        raise TunesmithError(f"two project folders given: {legacy} and -p {option}",
                             "Pass the project once, with -p/--project.")
    return legacy


def run_argument(help: str = RUN_HELP):
    return typer.Argument(..., metavar="RUN", help=help)


def runs_argument(help: str = "Runs: ids, unique parts of ids, 'latest' or folders."):
    return typer.Argument(..., metavar="RUN...", help=help)
