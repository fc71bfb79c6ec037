"""Terminal progress: one place decides how long work is shown (rich spinners and bars)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console

console = Console(stderr=True)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for work of unknown length; prints a done line afterwards."""
    if not sys.stderr.isatty():
        console.print(f"{message} …")
        yield
        return
    with console.status(message):
        yield
    console.print(f"[green]✓[/green] {message}")
