"""Crash-safe checkpoints made of safetensors and JSON only (no pickle anywhere).

A checkpoint folder holds the trainable weights, the optimizer state (tensors in safetensors, plain
numbers in JSON), the RNG state and the loop position. It is written into a temporary folder beside
its final place, every file fsynced, a `COMPLETE` marker written last, then renamed into place: a
folder named `step-N` with a marker is always whole. Tensors are whole whatever the process layout:
under fsdp they are gathered before saving and cut back into this process's shards on loading.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tunesmith.errors import TunesmithError
from tunesmith.train.sharding import place

MARKER = "COMPLETE"
WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "trainer_state.json"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def optimizer_to_files(optimizer: torch.optim.Optimizer | dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state (or the optimizer's) into tensors and a JSON-able remainder."""
    state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    numbers: dict[str, dict] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().contiguous()
            else:
                numbers.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "numbers": numbers}


def optimizer_from_files(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, slots in meta["numbers"].items():
        state.setdefault(int(index), {}).update(slots)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(folder: Path, weights: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer | dict,
                    state: dict) -> Path:
    """Write `folder` atomically; `state` is the JSON loop position (step, epoch, history ...)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, str(staging / WEIGHTS))
        tensors, meta = optimizer_to_files(optimizer)
        save_file(tensors, str(staging / OPTIMIZER))
        save_file({"torch": torch.get_rng_state()}, str(staging / "rng.safetensors"))
        (staging / "optimizer.json").write_text(json.dumps(meta))
        (staging / STATE).write_text(json.dumps(state, indent=2))
        (staging / MARKER).write_text("ok\n")
        for path in staging.iterdir():
            _fsync(path)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        _fsync(folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def complete_checkpoints(root: Path) -> list[Path]:
    """Whole checkpoints under `root`, oldest first."""
    if not root.exists():
        return []
    found = [p for p in root.glob("step-*") if (p / MARKER).exists() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def read_state(folder: Path) -> dict:
    return json.loads((folder / STATE).read_text())


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """Restore weights (and optimizer + RNG when given an optimizer); returns the loop state."""
    if not (folder / MARKER).exists():
        raise TunesmithError(f"{folder} is an incomplete checkpoint", "Resume from an older step-N folder.")
    load_weights(folder, model)
    if optimizer is not None:
        meta = json.loads((folder / "optimizer.json").read_text())
        saved = optimizer_from_files(load_file(str(folder / OPTIMIZER)), meta)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        saved["state"] = {i: {key: place(value, params[i]) if isinstance(value, torch.Tensor) else value
                              for key, value in slots.items()} for i, slots in saved["state"].items()}
        optimizer.load_state_dict(saved)
        torch.set_rng_state(load_file(str(folder / "rng.safetensors"))["torch"])
    return read_state(folder)


def load_weights(folder: Path, model: torch.nn.Module) -> None:
    weights = load_file(str(folder / WEIGHTS))
    params = dict(model.named_parameters())
    missing = [name for name, p in params.items() if p.requires_grad and name not in weights]
    if missing or set(weights) - set(params):
        raise TunesmithError(f"{folder} does not match this model (e.g. missing {missing[:2]})",
                             "Resume with the same model and method the run started with.")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(place(value, params[name]))


def prune(root: Path, keep: int, protect: set[str]) -> None:
    """Delete all but the newest `keep` checkpoints, never those named in `protect` (the best)."""
    ckpts = complete_checkpoints(root)
    for folder in ckpts[:-keep] if keep else ckpts:
        if folder.name not in protect:
            shutil.rmtree(folder, ignore_errors=True)
    for stale in root.glob(".step-*"):  # staging folders left by a killed process
        shutil.rmtree(stale, ignore_errors=True)
