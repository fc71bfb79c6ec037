"""Crash-safe checkpoints made of safetensors and JSON only (no pickle anywhere).

A checkpoint folder holds the trainable weights, the optimizer state (tensors in safetensors, plain
numbers in JSON), the RNG state and the loop position. It is written into a temporary folder beside
its final place, every file fsynced, a `COMPLETE` marker written last, then renamed into place. The
marker is a manifest: each file's size and sha256 as written. A folder is whole when its files still
match it: sizes are checked whenever checkpoints are listed, hashes before a run resumes from one
(a damaged newest checkpoint is skipped for the previous whole one). Markers written before the
manifest existed (`ok`) are taken as whole. Tensors are whole whatever the process layout: under
fsdp they are gathered before saving and cut back into this process's shards on loading.

Test hook: with TUNESMITH_TEST_CRASH_AT=<point>:<n> in the environment, the process kills itself with
SIGKILL the n-th time it reaches <point> (one of CRASH_POINTS), so the fault tests (tests/fuzz/
test_faults.py) can prove that a kill anywhere inside a checkpoint write is survivable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tunesmith.errors import TunesmithError
from tunesmith.train.sharding import place

MARKER = "COMPLETE"
WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "trainer_state.json"
CRASH_ENV = "TUNESMITH_TEST_CRASH_AT"
# Where a checkpoint write can be cut short, in the order they are reached.
CRASH_POINTS = ("staging", "weights", "optimizer", "files", "marker", "replaced", "pruning")
_passes: dict[str, int] = {}


def _crash_point(name: str) -> None:
    """The test hook described above; one environment lookup when unset."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted.partition(":")[0] != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == int(wanted.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        _crash_point("staging")
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, str(staging / WEIGHTS))
        _crash_point("weights")
        tensors, meta = optimizer_to_files(optimizer)
        save_file(tensors, str(staging / OPTIMIZER))
        _crash_point("optimizer")
        save_file({"torch": torch.get_rng_state()}, str(staging / "rng.safetensors"))
        (staging / "optimizer.json").write_text(json.dumps(meta))
        (staging / STATE).write_text(json.dumps(state, indent=2))
        for path in staging.iterdir():
            _fsync(path)
        _crash_point("files")
        manifest = {path.name: {"size": path.stat().st_size, "sha256": _sha256(path)}
                    for path in sorted(staging.iterdir())}
        (staging / MARKER).write_text(json.dumps({"files": manifest}, indent=2))
        _fsync(staging / MARKER)
        _crash_point("marker")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        _crash_point("replaced")
        _fsync(folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _manifest(folder: Path) -> dict | None:
    """The marker's file list; None for a marker from before manifests (`ok`), taken as whole."""
    text = (folder / MARKER).read_text(errors="replace")
    if text.strip() == "ok":
        return None
    try:
        return dict(json.loads(text)["files"])
    except (ValueError, KeyError, TypeError):
        return {}  # an unreadable marker lists nothing, which `damage` reports


def damage(folder: Path, hashes: bool = True) -> str | None:
    """Why a marked checkpoint cannot be used (a file missing, cut short or changed), or None when whole.
    With hashes=False only sizes are compared: cheap enough for every listing."""
    manifest = _manifest(folder)
    if manifest is None:
        return None
    if not manifest:
        return f"its {MARKER} marker is unreadable"
    for name, expected in manifest.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{name} is {path.stat().st_size:,} bytes, {expected['size']:,} were written"
    if hashes:
        for name, expected in manifest.items():
            if _sha256(folder / name) != expected["sha256"]:
                return f"{name} does not match the sha256 recorded when it was written"
    return None


def _marked(root: Path) -> list[Path]:
    if not root.exists():
        return []
    found = [p for p in root.glob("step-*") if (p / MARKER).exists() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def complete_checkpoints(root: Path) -> list[Path]:
    """Whole checkpoints under `root` (marker present, every file of its recorded size), oldest first."""
    return [p for p in _marked(root) if damage(p, hashes=False) is None]


def resume_point(root: Path, report: Callable[[str], None]) -> Path | None:
    """The newest checkpoint whose files match their hashes. Newer damaged ones are reported, skipped and
    removed (the resumed run writes those steps again). None when no checkpoint is whole."""
    clear_staging(root)
    for folder in reversed(_marked(root)):
        problem = damage(folder)
        if problem is None:
            return folder
        report(f"skipping checkpoint {folder.name}: {problem}; removed it, falling back to the one before")
        shutil.rmtree(folder, ignore_errors=True)
    return None


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
            _crash_point("pruning")
    clear_staging(root)


def clear_staging(root: Path) -> None:
    """Remove staging folders a killed process left behind (one process writes a run's checkpoints)."""
    for stale in root.glob(".step-*") if root.exists() else ():
        shutil.rmtree(stale, ignore_errors=True)
