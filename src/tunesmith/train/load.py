"""load_run(): a finished run folder back as a ready-to-use model.

Methods that can merge (LoRA, DoRA, IA3) are merged into the base weights on load, so inference runs
at the base model's speed with no adapter overhead; prefix/prompt tuning and bottleneck adapters stay
attached. Full fine-tunes load from `model/` directly. The model is returned in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tunesmith.config import ProjectConfig, load_config
from tunesmith.errors import TunesmithError
from tunesmith.methods import get_method
from tunesmith.models.loading import load_tokenizer
from tunesmith.train.run_folder import CONFIG_FILE, read_run
from tunesmith.train.setup import load_base, quiet_transformers


@dataclass
class LoadedRun:
    model: torch.nn.Module
    tokenizer: object
    config: ProjectConfig
    task: str
    labels: list[str] | None
    run_dir: Path
    info: dict


def load_run(run_dir: str | Path, merge: bool = True) -> LoadedRun:
    run_dir = Path(run_dir)
    info = read_run(run_dir)
    if not (run_dir / CONFIG_FILE).exists() or not info:
        raise TunesmithError(f"{run_dir} is not a tunesmith run folder (no {CONFIG_FILE} / run.json)",
                             "Pass a folder under runs/ (see `ls runs/`).")
    if info.get("status") not in ("completed",):
        raise TunesmithError(f"run {run_dir.name} is {info.get('status')}, it has no final model yet",
                             "Finish it with `tunesmith train --resume`, or pick a completed run.")
    config = load_config(run_dir / CONFIG_FILE)
    method = get_method(info["method"])
    task, labels = info["task"], info.get("labels")
    artifact = run_dir / method.artifact
    if not artifact.exists():
        raise TunesmithError(f"{artifact} is missing", "The run folder is incomplete; train again.")
    base, _, _ = load_base(config, task, labels)
    with quiet_transformers():
        model = method.load(base, artifact)
    if merge and method.merge is not None:
        model = method.merge(model)
    tokenizer = _tokenizer(run_dir / "tokenizer") if (run_dir / "tokenizer").exists() else load_tokenizer(
        config.model.name)
    return LoadedRun(model.eval(), tokenizer, config, task, labels, run_dir, info)


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer
