"""How several processes share one model: `training.distributed` picks a strategy the loop talks to.

- ddp (`Replicated`, also the single-process case): every process holds the whole model; gradients
  are summed once per optimizer step by `World` (train/distributed.py).
- fsdp (`Sharded`): PyTorch's FSDP2 (`fully_shard`) on every transformer block and the root, so
  weights, gradients and optimizer state are split across processes. Gradients are reduce-scattered
  as sums (the loss is already divided by the step-wide target count), which is what makes N
  processes × b equal one process with batch N × b. Works on CPU with gloo too.
- deepspeed (`train/deepspeed_engine.py`): model and optimizer handed to `deepspeed.initialize`.

Checkpoints and the final model are the same files whatever the strategy: sharded tensors are
gathered into whole ones before saving, and whole tensors are cut back into shards when loading.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor, distribute_tensor

from tunesmith.config.training import TrainingConfig
from tunesmith.train.distributed import World
from tunesmith.train.loss import unwrap


def whole(tensor: torch.Tensor) -> torch.Tensor:
    """The full tensor behind a shard (a collective: every process must call it); others as they are."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def place(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A whole tensor from a checkpoint, laid out like `like` (this process's shard when `like` is sharded)."""
    if isinstance(like, DTensor) and tuple(value.shape) == tuple(like.shape):
        return distribute_tensor(value.to(like.dtype), like.device_mesh, like.placements, src_data_rank=None)
    return value


class Replicated:
    """Every process holds the whole model; also the strategy of a single process."""

    name = "ddp"
    whole_forward = False  # the loss may call the decoder alone and project only labelled rows
    resumable = True

    def __init__(self, world: World) -> None:
        self.world = world
        self.device = world.device
        self.autocast_dtype: torch.dtype | None = None  # training.mixed_precision: the training forward's dtype

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context a training forward pass runs in (its backward follows the same dtypes)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def setup(self, model: torch.nn.Module, build_optimizer: Callable) -> tuple[torch.nn.Module, object]:
        model.to(self.device)
        self.world.sync_parameters(model)
        return model, build_optimizer(model)

    def rounds(self, items: list) -> list:
        """The validation batches (or micro-batches) this process runs; None means a zero-weight pass."""
        return list(items)

    def micro_batches(self, items: list) -> list:
        """This process's micro-batches for one optimizer step, as `rounds`."""
        return self.rounds(items)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self, optimizer, params: list[torch.nn.Parameter], max_grad_norm: float) -> float | None:
        """Sum, clip and apply the gradients; returns their norm before clipping (None: not known here)."""
        self.world.sum_gradients(params)
        norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def weights(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Whole trainable weights for a checkpoint (complete on the main process)."""
        return self._gather((n, p) for n, p in model.named_parameters() if p.requires_grad)

    def optimizer_state(self, optimizer) -> dict:
        """The optimizer state with whole tensors, in the single-process layout (complete on the main process)."""
        state = optimizer.state_dict()
        return {"param_groups": state["param_groups"],
                "state": {i: self._gather(slots.items()) for i, slots in state["state"].items()}}

    def saveable(self, model: torch.nn.Module, rebuild: Callable[[], torch.nn.Module]) -> torch.nn.Module | None:
        """A model whose `save_pretrained` writes whole weights, on the main process (None elsewhere)."""
        return model if self.world.main else None

    @torch.no_grad()
    def _gather(self, items) -> dict:
        gathered = {}
        for name, value in items:
            value = whole(value) if isinstance(value, torch.Tensor) else value
            if self.world.main:
                gathered[name] = value
        return gathered


class Sharded(Replicated):
    """PyTorch FSDP2: each transformer block is its own shard group, the rest belongs to the root."""

    name = "fsdp"
    # FSDP gathers the root's weights (embeddings, final norm, head) in the root module's forward hook,
    # so the loss must call the whole model rather than the decoder alone.
    whole_forward = True

    def setup(self, model: torch.nn.Module, build_optimizer: Callable) -> tuple[torch.nn.Module, object]:
        from torch.distributed.fsdp import FSDPModule, fully_shard

        model.to(self.device)
        self.world.sync_parameters(model)  # trainable weights from rank 0; the frozen base is read from disk
        blocks = set(getattr(unwrap(model), "_no_split_modules", None) or ())
        for module in list(model.modules()):
            if type(module).__name__ in blocks:
                fully_shard(module)
        fully_shard(model)
        for module in model.modules():
            if isinstance(module, FSDPModule):
                module.set_gradient_divide_factor(1.0)  # sum, do not average: the loss is already normalised
                module.set_force_sum_reduction_for_comms(True)  # gloo has no PREMUL_SUM
        return model, build_optimizer(model)

    def rounds(self, items: list) -> list:
        # Every forward and backward is a collective: all processes run as many passes as the busiest.
        count = torch.tensor([len(items)], device=self.device)
        dist.all_reduce(count, op=dist.ReduceOp.MAX)
        return list(items) + [None] * (int(count) - len(items))

    def step(self, optimizer, params: list[torch.nn.Parameter], max_grad_norm: float) -> float | None:
        norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)  # gradients were summed during backward
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(whole(norm))  # a DTensor over the shards: every process takes part in gathering it

    def saveable(self, model: torch.nn.Module, rebuild: Callable[[], torch.nn.Module]) -> torch.nn.Module | None:
        # A sharded module cannot save itself: gather its state into a freshly built, unsharded copy.
        state = self._gather(model.state_dict().items())
        if not self.world.main:
            return None
        plain = rebuild()
        plain.load_state_dict(state)
        return plain


def choose(training: TrainingConfig, world: World) -> Replicated:
    """The strategy for `training.distributed`; one process needs nothing but DeepSpeed's own engine."""
    if training.distributed == "deepspeed":
        from tunesmith.train.deepspeed_engine import DeepSpeedStrategy

        return DeepSpeedStrategy(world, training)
    strategy = Sharded(world) if training.distributed == "fsdp" and world.size > 1 else Replicated(world)
    if training.mixed_precision == "bf16":
        strategy.autocast_dtype = torch.bfloat16
    return strategy


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run natively here (a CPU with AVX512-BF16 or AMX, or a GPU that has them)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpu = getattr(torch, "cpu", None)
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
