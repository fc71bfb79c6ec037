"""A project folder on disk: tunesmith.yaml plus data/, runs/ and exports/ beside it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tunesmith.config import PROJECT_FILE, ProjectConfig, load_config, save_config
from tunesmith.errors import TunesmithError

DATA_DIR, RUNS_DIR, EXPORTS_DIR = "data", "runs", "exports"


def ensure_writable(folder: Path) -> Path:
    """Create `folder` (and parents) or fail with one clear line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TunesmithError(f"cannot create {folder}: {err.strerror}.",
                             "Choose a folder you can write to.") from None
    if not os.access(folder, os.W_OK):
        raise TunesmithError(f"{folder} is not writable.", "Choose a folder you can write to.")
    return folder


@dataclass
class Project:
    root: Path
    config: ProjectConfig

    @classmethod
    def load(cls, root: str | Path = ".") -> Project:
        root = Path(root).resolve()
        if root.is_file():
            root = root.parent
        return cls(root, load_config(root / PROJECT_FILE))

    @classmethod
    def create(cls, root: str | Path, config: ProjectConfig) -> Project:
        root = ensure_writable(Path(root).resolve())
        save_config(config, root / PROJECT_FILE)
        return cls(root, config)

    def save(self) -> Path:
        return save_config(self.config, self.root / PROJECT_FILE)

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR

    @property
    def exports_dir(self) -> Path:
        return self.root / EXPORTS_DIR

    def new_run_dir(self, label: str, create: bool = True) -> Path:
        """A fresh, sortable run folder such as runs/20261129-101502-lora (create=False: only its name, for
        training, which creates it once the run can start)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(100):
            suffix = f"-{attempt}" if attempt else ""
            folder = self.runs_dir / f"{stamp}-{label}{suffix}"
            if not folder.exists():
                return ensure_writable(folder) if create else folder
        raise TunesmithError(f"cannot allocate a run folder under {self.runs_dir}")

    def source_path(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.root / path
