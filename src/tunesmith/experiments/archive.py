"""One .tar.gz with everything needed to inspect and reproduce a run on another machine.

The archive is a small project: tunesmith.yaml (the run's config), data/<version>/ (the exact splits
and their manifest) and runs/<id>/ (config, run record, metrics, plots, eval report, environment,
plan; weights only on request). `import_archive` unpacks it; `tunesmith reproduce` accepts it directly.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from tunesmith.config import PROJECT_FILE, ProjectConfig
from tunesmith.errors import TunesmithError
from tunesmith.experiments.environment import record_environment
from tunesmith.experiments.registry import find_run, load_record
from tunesmith.runs import CHECKPOINTS_DIR, WEIGHT_DIRS


def _project_file(config: ProjectConfig) -> bytes:
    """The run's config as a project file (read tolerantly, so an older run's settings still make a project)."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True).encode()


def _add_text(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    import time

    member = tarfile.TarInfo(name)
    member.size, member.mtime, member.mode = len(data), int(time.time()), 0o644
    archive.addfile(member, io.BytesIO(data))



def _run_members(run_dir: Path, include_weights: bool) -> list[Path]:
    skipped = {CHECKPOINTS_DIR} | (set() if include_weights else set(WEIGHT_DIRS))
    return [p for p in sorted(run_dir.iterdir()) if p.name not in skipped]


def export_run(project, ref: str | Path, destination: Path | None = None, include_weights: bool = False) -> Path:
    """Write <run-id>.tar.gz (in exports/ unless `destination` is given) and return its path."""
    record = load_record(find_run(project.runs_dir, ref))
    version = record.info.dataset_version or ""
    data_dir = project.data_dir / version
    if not version or not data_dir.exists():
        raise TunesmithError(f"dataset version '{version}' of run {record.run_id} is not in {project.data_dir}",
                             "Run `tunesmith prepare` with the sources the run used, then export again.")
    record_environment(record.path, record.config, data_dir, after_training=True)
    destination = Path(destination) if destination else project.exports_dir / f"{record.run_id}.tar.gz"
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(destination, "w:gz") as archive:
        _add_text(archive, PROJECT_FILE, _project_file(record.folder.config()))
        for item in sorted(data_dir.iterdir()):
            archive.add(item, arcname=f"data/{version}/{item.name}")
        for item in _run_members(record.path, include_weights):
            archive.add(item, arcname=f"runs/{record.run_id}/{item.name}")
    return destination


def import_archive(archive_path: Path, folder: Path) -> tuple[Path, str]:
    """Unpack an exported run as a project folder; returns (project folder, run id)."""
    archive_path = Path(archive_path)
    if not tarfile.is_tarfile(archive_path):
        raise TunesmithError(f"{archive_path} is not a run archive", "Make one with `tunesmith runs export RUN`.")
    with tarfile.open(archive_path, "r:gz") as archive:
        names = archive.getnames()
        runs = sorted({n.split("/")[1] for n in names if n.startswith("runs/") and n.count("/") >= 2})
        if "tunesmith.yaml" not in names or len(runs) != 1:
            raise TunesmithError(f"{archive_path} does not hold exactly one run and its project file",
                                 "Make it with `tunesmith runs export RUN`.")
        if folder.exists() and (folder / "runs" / runs[0]).exists():
            shutil.rmtree(folder / "runs" / runs[0])
        archive.extractall(folder, filter="data")  # refuses absolute paths, links out of the folder, devices
    return folder, runs[0]
