"""`training.distributed: deepspeed`: hand the model and optimizer to `deepspeed.initialize`.

A pass-through for GPU machines; deepspeed is not a dependency of tunesmith. The user's JSON keeps
everything it says (ZeRO stage, offload, bf16 ...) except what the training section already decides:
micro-batch size, accumulation and clipping are written from it (a different value in the JSON is an
error, "auto" is filled in), and the optimizer and learning-rate schedule stay tunesmith's. ZeRO
stages 0-2 only: stage 3 splits the weights themselves, which `distributed: fsdp` does natively.
Not run on GPUs in this repository's tests: they check the decisions and the config we would pass.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import torch

from tunesmith.config.training import TrainingConfig
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.train.distributed import World
from tunesmith.train.sharding import Replicated


def unavailable(installed: bool, cuda: bool) -> TunesmithError | None:
    """Why DeepSpeed cannot run here, or None when it can."""
    if installed and cuda:
        return None
    missing = " and ".join(what for what, ok in (("CUDA GPUs", cuda), ("the deepspeed package", installed)) if not ok)
    first = "Run on a machine with NVIDIA GPUs" if installed else "`pip install deepspeed` on a machine with GPUs"
    return TunesmithError(f"training.distributed: deepspeed needs {missing}, which this machine lacks.",
                          f"{first}, or use training.distributed: fsdp (shards like ZeRO, ships with PyTorch, runs "
                          "on CPUs) or ddp.")


def read_user_config(path: str | None) -> dict:
    if path is None:
        return {}
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"training.deepspeed_config: no file at {file}",
                          "Point it at your DeepSpeed JSON (relative to the project folder).") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"training.deepspeed_config: {file}:{exc.lineno}: not valid JSON ({exc.msg})",
                          "Fix the file; DeepSpeed configs are plain JSON.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"training.deepspeed_config: {file} must hold a JSON object")
    return data


def merged_config(user: dict, training: TrainingConfig, world_size: int) -> dict:
    """The config passed to deepspeed.initialize: the user's, with batch, accumulation and clipping ours."""
    ours = {"train_micro_batch_size_per_gpu": training.batch_size,
            "gradient_accumulation_steps": training.gradient_accumulation,
            "train_batch_size": training.batch_size * training.gradient_accumulation * world_size,
            "gradient_clipping": training.max_grad_norm}
    conflicts = [f"{key} is {user[key]!r} there but {value!r} here" for key, value in ours.items()
                 if key in user and user[key] != "auto" and user[key] != value]
    if conflicts:
        raise ConfigError("training.deepspeed_config disagrees with the training section: " + "; ".join(conflicts),
                          "Set training.batch_size / gradient_accumulation / max_grad_norm and write \"auto\" "
                          "(or nothing) for these keys in the JSON.")
    owned = [key for key in ("optimizer", "scheduler") if key in user]
    if owned:
        raise ConfigError(f"training.deepspeed_config sets {' and '.join(owned)}, which tunesmith builds from "
                          "the training section", "Remove them from the JSON and set training.optimizer, "
                          "learning_rate, scheduler and warmup_ratio instead.")
    if (user.get("zero_optimization") or {}).get("stage", 0) == 3:
        raise ConfigError("training.deepspeed_config: ZeRO stage 3 is not supported",
                          "Use stage 1 or 2, or training.distributed: fsdp to shard the weights too.")
    return {**user, **ours}


class DeepSpeedStrategy(Replicated):
    """DeepSpeed's engine does the gradient reduction, clipping and optimizer step."""

    name = "deepspeed"
    resumable = False  # ZeRO's partitioned optimizer state is not in our checkpoint format

    def __init__(self, world: World, training: TrainingConfig) -> None:
        problem = unavailable(importlib.util.find_spec("deepspeed") is not None, torch.cuda.is_available())
        if problem:
            raise problem
        super().__init__(world)
        import os

        self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        self.config = merged_config(read_user_config(training.deepspeed_config), training, world.size)
        self.accumulation = training.gradient_accumulation
        self.engine = None

    def setup(self, model: torch.nn.Module, build_optimizer: Callable) -> tuple[torch.nn.Module, object]:
        import deepspeed

        model.to(self.device)
        self.world.sync_parameters(model)
        self.engine, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=build_optimizer(model),
                                                            config=self.config)
        return model, optimizer

    def micro_batches(self, items: list) -> list:
        # DeepSpeed counts micro-batches to find the step boundary: always run exactly `accumulation`.
        return list(items) + [None] * (self.accumulation - len(items))

    def backward(self, loss: torch.Tensor) -> None:
        # DeepSpeed divides by accumulation steps and averages over processes; our loss is already the
        # share of a step-wide sum, so undo both. engine.step() only steps at the accumulation boundary.
        self.engine.backward(loss * self.accumulation * self.world.size)
        self.engine.step()

    def step(self, optimizer, params: list[torch.nn.Parameter], max_grad_norm: float) -> float | None:
        return None  # done by the engine on the last micro-batch, clipping included

    def optimizer_state(self, optimizer) -> dict:
        return {"param_groups": [], "state": {}}
