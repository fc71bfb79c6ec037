"""Browser fixtures: Debian's Chromium driven headless by Playwright, and a studio on a free port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chromium() -> str:
    # The test setup installs Debian's Chromium once (Playwright cannot download browsers here).
    subprocess.run(["bash", str(REPO / "scripts" / "ensure_chromium.sh")], check=True)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def studio(tmp_path):
    """A studio serving an empty project folder; yields (url, project root). Stops every job it started."""
    from tunesmith.studio import jobs, launch_studio

    root = tmp_path / "project"
    root.mkdir()
    port = free_port()
    demo = launch_studio(root, port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}", root
    finally:
        for job in jobs.running_jobs(root, "train") + jobs.running_jobs(root, "serve"):
            jobs.stop_job(job)
        demo.close()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Where a browser test saves its screenshots: under the test's own pytest output folder."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    print(f"screenshots: {folder}")
    return folder
