"""Drive Debian's headless Chromium: screenshots, DOM dumps and the page's console messages."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]
# With --enable-logging, Chromium writes each console message of the page as an INFO:CONSOLE line.
CONSOLE = re.compile(r":INFO:CONSOLE[^\]]*\] (.*)")


def _run(args: list[str], profile: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def screenshot(page: Path, png: Path, profile: Path, size: tuple[int, int] = (1280, 2400)) -> list[str]:
    """Render `page` into `png`; returns the console messages the page produced."""
    done = _run([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()], profile)
    assert png.exists(), done.stderr[-2000:]
    return CONSOLE.findall(done.stderr)


def dump_dom(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after the page loaded, and its console messages."""
    done = _run(["--dump-dom", page.resolve().as_uri()], profile)
    return done.stdout, CONSOLE.findall(done.stderr)


def pixel_stats(png: Path, color: tuple[int, int, int], tolerance: int = 12) -> tuple[float, int]:
    """(share of non-white pixels, number of pixels within `tolerance` of `color`)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    non_white = (pixels < 245).any(axis=2).mean()
    near = (np.abs(pixels - np.array(color)) <= tolerance).all(axis=2).sum()
    return float(non_white), int(near)
