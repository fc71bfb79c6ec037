"""The run folder's files besides checkpoints: config.yaml, run.json, the model card, the artifact's last touches."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.config import ProjectConfig
from tunesmith.runs import CONFIG_FILE, RUN_FILE, RunFolder, save_run_config

ADAPTER_CONFIG = "adapter_config.json"  # PEFT's name


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def write_config(run_dir: Path, config: ProjectConfig) -> None:
    save_run_config(config, run_dir / CONFIG_FILE)


def finish_artifact(folder: Path, base_model: str) -> None:
    """The saved adapter/ or model/ made portable: an adapter names its base by the Hub id when the base is a
    bundled model (PEFT wrote the local cache path, which exists on no other machine; tunesmith's catalog maps
    the id back to its local copy; a base in a folder of the user's stays named by its path), and the files get
    the permissions any file the user writes gets."""
    from tunesmith.models.catalog import hub_id
    from tunesmith.permissions import as_user_files

    config_file, hub = Path(folder) / ADAPTER_CONFIG, hub_id(base_model)
    if hub and config_file.exists():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = hub
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    as_user_files(folder)


def write_card(run_dir: Path) -> None:
    """The run's model card (README.md), and its copy in adapter/ or model/ (replacing PEFT's blank template)."""
    from tunesmith.evaluate.model_card import write_run_cards

    write_run_cards(RunFolder(run_dir))
