"""A finished job's weights as one `.tar.gz` download; hosted fine-tuning never hands them out, here they are yours.

`run` (the default) packs the run folder as it is: the adapter (or full model), tokenizer, config, model card,
metrics and evaluation report, without intermediate checkpoints. `hf`, `gguf` and `adapter` go through
`tunesmith.deploy.export` first (a merged Hugging Face folder, a GGUF file with an Ollama Modelfile, or the
bare adapter), including its parity check. Each archive is built once and reused.
"""

from __future__ import annotations

import os
import tarfile
import threading
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.runs import CHECKPOINTS_DIR, RunFolder

FORMATS = ("run", "hf", "gguf", "adapter")
SKIPPED = {CHECKPOINTS_DIR}
_building = threading.Lock()  # exports load models: one at a time, and never the same archive twice at once


def export_archive(run_dir: Path, folder: Path, format: str = "run") -> Path:
    if format not in FORMATS:
        raise TunesmithError(f"unknown export format '{format}'.", f"Choose one of: {', '.join(FORMATS)}.")
    if not run_dir.is_dir():
        raise TunesmithError(f"run folder {run_dir} is missing.", "It was moved or deleted; rerun the job.")
    run = RunFolder(run_dir)
    run.require_finished("export")
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"weights-{format}.tar.gz"
    with _building:
        stamp = run.run_file
        if archive.exists() and archive.stat().st_mtime >= stamp.stat().st_mtime:
            return archive
        if format == "run":
            source = run_dir
        else:
            from tunesmith.deploy import export

            source = export(run_dir, format, folder=folder / f"export-{format}").path
        staging = archive.with_suffix(".partial")
        with tarfile.open(staging, "w:gz") as tar:
            for child in sorted(source.iterdir()):
                if child.name not in SKIPPED and not child.name.startswith("."):
                    tar.add(child, arcname=f"{run_dir.name}-{format}/{child.name}")
        os.replace(staging, archive)
    return archive
