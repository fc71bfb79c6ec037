"""load_run(): a finished run folder back as a ready-to-use model.

Methods that can merge (LoRA, DoRA, IA3) are merged into the base weights on load, so inference runs
at the base model's speed with no adapter overhead; prefix/prompt tuning and bottleneck adapters stay
attached. Full fine-tunes load from `model/` directly. The model is returned in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tunesmith.config import ProjectConfig
from tunesmith.errors import TunesmithError
from tunesmith.methods import get_method
from tunesmith.models.loading import load_tokenizer
from tunesmith.runs import RunFolder, RunInfo
from tunesmith.train.setup import load_base, quiet_transformers


@dataclass
class LoadedRun:
    model: torch.nn.Module
    tokenizer: object
    config: ProjectConfig
    task: str
    labels: list[str] | None
    run_dir: Path
    info: RunInfo

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)


def load_run(run_dir: str | Path | RunFolder, merge: bool = True, action: str = "load") -> LoadedRun:
    """A finished run's model; any other run is refused with one line (`RunFolder.require_finished`)."""
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(Path(run_dir))
    info = folder.require_finished(action)
    config = folder.config()
    if info.method is None:
        raise TunesmithError(f"run {folder.run_id} does not say which method trained it",
                             "The run folder is incomplete: train again.")
    from tunesmith.embeddings.fewshot import RECIPE_KEY

    # an encoder + a linear head on its pooled embedding: few examples per class (SetFit-style), or pooled
    if info.raw.get(RECIPE_KEY) in ("embedding", "pooled"):
        from tunesmith.embeddings.fewshot_run import load_embedding_recipe

        return load_embedding_recipe(folder, info, config, merge)
    method = get_method(info.method)
    task, labels = info.task or config.objective.task, info.labels
    base, _, _ = load_base(config, task, labels)
    with quiet_transformers():
        model = method.load(base, folder.path / method.artifact)
    if merge and method.merge is not None:
        model = method.merge(model)
    return LoadedRun(model.eval(), run_tokenizer(folder, config), config, task, labels, folder.path, info)


def run_tokenizer(folder: RunFolder, config: ProjectConfig):
    """The tokenizer the run saved, else its base model's."""
    return _tokenizer(folder.tokenizer_dir) if folder.tokenizer_dir.exists() else load_tokenizer(config.model.name)


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer
