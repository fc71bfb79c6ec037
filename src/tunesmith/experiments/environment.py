"""What a run needs to be reproduced: package versions, seeds, thread count, data and base-model hashes.

Written as environment.json in the run folder. When the trainer did not write one, it is recorded the
first time a run is exported or reproduced, marked as recorded after training.
"""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

from tunesmith.models.convert import sha256_of
from tunesmith.runs import ENVIRONMENT_FILE

PACKAGES = ("tunesmith", "torch", "transformers", "peft", "accelerate", "safetensors", "tokenizers", "numpy",
            "pyarrow", "optuna")


def folder_hashes(folder: Path, pattern: str) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in sorted(folder.glob(pattern)) if p.is_file()} if folder.exists() else {}


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def base_model_hashes(model_name: str, trust_remote_code: bool = False) -> dict[str, str]:
    from tunesmith.models.catalog import resolve

    try:
        return folder_hashes(Path(resolve(model_name, trust_remote_code=trust_remote_code).path), "*.safetensors")
    except Exception:  # a missing model is reported by reproduce itself, with a hint
        return {}


def environment(config: dict, data_dir: Path | None, threads: int | None = None) -> dict:
    """A JSON-ready description of everything outside the config that decides a run's numbers."""
    import torch

    training, data = config.get("training", {}), config.get("data", {})
    return {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
        "packages": package_versions(),
        "threads": threads or training.get("num_threads") or torch.get_num_threads(),
        "seeds": {"training": training.get("seed"), "data": data.get("seed")},
        "data": {"version": data_dir.name if data_dir else None,
                 "files": folder_hashes(data_dir, "*.parquet") if data_dir else {}},
        "base_model": {"name": config.get("model", {}).get("name"),
                       "weights": base_model_hashes(config.get("model", {}).get("name", ""),
                                                   config.get("model", {}).get("trust_remote_code", False))},
    }


def read_environment(run_dir: Path) -> dict | None:
    path = Path(run_dir) / ENVIRONMENT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def record_environment(run_dir: Path, config: dict, data_dir: Path | None, after_training: bool = False,
                       threads: int | None = None) -> dict:
    """Write environment.json unless the run already has one; returns what the run records."""
    existing = read_environment(run_dir)
    if existing is not None:
        return existing
    record = environment(config, data_dir, threads)
    if after_training:
        record["recorded_after_training"] = True  # versions are today's, not necessarily the run's
    (Path(run_dir) / ENVIRONMENT_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def environment_differences(original: dict, current: dict) -> list[str]:
    """Human-readable differences that can change a run's numbers (pure)."""
    notes = []
    for name, version in original.get("packages", {}).items():
        if current.get("packages", {}).get(name) != version:
            notes.append(f"{name} {version} → {current.get('packages', {}).get(name)}")
    for key in ("threads", "machine"):
        if original.get(key) != current.get(key):
            notes.append(f"{key} {original.get(key)} → {current.get(key)}")
    if original.get("data", {}).get("files") and original["data"]["files"] != current.get("data", {}).get("files"):
        notes.append("data files differ from the recorded hashes")
    if original.get("base_model", {}).get("weights") and \
            original["base_model"]["weights"] != current.get("base_model", {}).get("weights"):
        notes.append("base model weights differ from the recorded hashes")
    return notes
