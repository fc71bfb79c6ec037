"""The `tunesmith` command: thin Typer commands over the Python API.

Each command module registers itself on `app`; expected failures print one line and exit 2.
"""

from __future__ import annotations

import os
import sys

import typer

from tunesmith.cli.help_text import use_plain_labels
from tunesmith.errors import TunesmithError

use_plain_labels()
app = typer.Typer(
    name="tunesmith",
    help="Fine-tune small language models on your own examples, evaluate them honestly, and serve "
    "them behind an OpenAI-compatible API. Start with `tunesmith quickstart -p my-project`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tunesmith {version('tunesmith')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("tunesmith (not installed: version unknown)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the installed version and exit."),
) -> None:
    pass


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    from tunesmith.cli import (  # noqa: F401
        config_cmd,
        data_cmd,
        eval_cmd,
        export_cmd,
        feedback_cmd,
        init_cmd,
        models_cmd,
        plan_cmd,
        quickstart_cmd,
        runs_cmd,
        serve_cmd,
        studio_cmd,
        train_cmd,
        tune_cmd,
    )


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _register_commands()
    try:
        app()
    except TunesmithError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
        sys.exit(130)
