"""A finished job's weights as one download: the run's adapter (or full model), tokenizer and config.

Hosted fine-tuning never hands out weights; here they are the user's. Checkpoints are left out (the
final weights are what a user deploys); the archive is built once and reused.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from tunesmith.errors import TunesmithError

SKIPPED = {"checkpoints"}


def export_archive(run_dir: Path, folder: Path) -> Path:
    if not run_dir.is_dir():
        raise TunesmithError(f"run folder {run_dir} is missing.", "It was moved or deleted; rerun the job.")
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "weights.tar.gz"
    if archive.exists() and archive.stat().st_mtime >= run_dir.stat().st_mtime:
        return archive
    staging = archive.with_suffix(".partial")
    with tarfile.open(staging, "w:gz") as tar:
        for child in sorted(run_dir.iterdir()):
            if child.name not in SKIPPED and not child.name.startswith("."):
                tar.add(child, arcname=f"{run_dir.name}/{child.name}")
    os.replace(staging, archive)
    return archive
