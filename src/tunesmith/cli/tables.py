"""Tables in the terminal: identifiers a user must type are never broken; descriptions give way instead."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 150  # piped output (files, CI logs) has no terminal width; tables of runs need more than 80


def console() -> Console:
    """A console as wide as the terminal, or as COLUMNS says; PIPED_WIDTH when neither is known."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return Console()
    return Console(width=PIPED_WIDTH)


def identifier_column(table: Table, header: str, **options) -> None:
    """A column of names, ids or versions to copy into a command: kept on one line while any other column can
    still shrink (rich narrows wrappable columns first)."""
    table.add_column(header, no_wrap=True, overflow="fold", **options)


def text_column(table: Table, header: str, **options) -> None:
    """A column of words that wraps between them to make room for the identifiers."""
    table.add_column(header, overflow="fold", **options)
