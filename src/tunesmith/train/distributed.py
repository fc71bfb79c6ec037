"""Several processes (torchrun / accelerate launch): each takes its share of every global batch.

Gradients are summed with all_reduce after the accumulation steps (each process divides by the
step-wide target count beforehand), so N processes × b equals one process with batch N × b. The
same environment variables `torchrun` and `accelerate launch` set are read; gloo on CPU, nccl on GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> World:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def device(self) -> torch.device:
        """This process's GPU when CUDA is available (one process: the first GPU), else the CPU.

        To train on the CPU of a GPU machine, hide the GPUs: CUDA_VISIBLE_DEVICES="".
        """
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")

    def sync_parameters(self, model: torch.nn.Module) -> None:
        """Start every process from rank 0's trainable weights."""
        if self.size > 1:
            for param in model.parameters():
                if param.requires_grad:
                    dist.broadcast(param.data, src=0)

    def sum_gradients(self, params: list[torch.nn.Parameter]) -> None:
        if self.size == 1:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def from_main(self, text: str) -> str:
        """The main process's `text` on every process (e.g. the run folder it created)."""
        if self.size == 1:
            return text
        data = torch.tensor(list(text.encode()), dtype=torch.uint8, device=self.device)
        length = torch.tensor([data.numel()], device=self.device)
        dist.broadcast(length, src=0)
        buffer = data if self.main else torch.zeros(int(length), dtype=torch.uint8, device=self.device)
        dist.broadcast(buffer, src=0)
        return bytes(buffer.tolist()).decode()

    def sum(self, *values: float) -> list[float]:
        if self.size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()
