"""Terminal progress: one place decides how long work is shown (rich spinners and bars)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.errors import LiveError
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

console = Console(stderr=True)

_LIBRARY_SWITCHES = (  # (module, function) pairs that turn a library's own tqdm bars off once it is imported
    ("huggingface_hub.utils", "disable_progress_bars"),
    ("transformers.utils.logging", "disable_progress_bar"),
    ("datasets", "disable_progress_bars"),
)


def quiet_library_bars() -> None:
    """Library progress bars (transformers' "Loading weights", huggingface_hub, datasets, any tqdm) are for
    terminals: in logs they are carriage-return noise, so they are off whenever stderr is not a terminal.
    The environment variables reach libraries imported later and child processes; the switches reach
    libraries already imported (transformers reads the hub's setting once, at import)."""
    if sys.stderr.isatty():
        return
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TQDM_DISABLE"] = "1"
    for module, switch in _LIBRARY_SWITCHES:
        if module in sys.modules:
            getattr(sys.modules[module], switch)()


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


@contextlib.contextmanager
def progress_bar(description: str, total: int, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A bar over `total` units of work (e.g. bytes read, which gives an ETA) that also counts `unit`s
    (e.g. records) and shows their rate. Yields update(done, count); call it every few thousand items,
    not per item. Without a terminal nothing is drawn: one summary line at the end, for logs."""
    start = time.perf_counter()
    seen = [0]

    def rate() -> str:
        elapsed = time.perf_counter() - start
        return f"{seen[0] / elapsed:,.0f} {unit}/s" if elapsed > 0 else ""

    progress = None
    if sys.stderr.isatty():
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[count]} {task.fields[unit]}"), TextColumn("{task.fields[rate]}"),
                   TimeRemainingColumn())
        progress = Progress(*columns, console=console)
        try:
            progress.start()
        except LiveError:  # rich < 14 cannot nest live displays (the CLI wraps prepare in status())
            progress = None
    if progress is None:
        def count_only(done: int, count: int) -> None:
            seen[0] = count

        yield count_only
        console.print(f"{description}: {seen[0]:,} {unit} in {time.perf_counter() - start:.1f} s ({rate()})",
                      highlight=False)
        return
    try:
        task = progress.add_task(description, total=total or None, count="0", unit=unit, rate="")

        def update(done: int, count: int) -> None:
            seen[0] = count
            progress.update(task, completed=done, count=f"{count:,}", rate=rate())

        yield update
    finally:
        progress.stop()
