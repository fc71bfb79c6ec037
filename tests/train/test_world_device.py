"""Where training runs: this process's GPU when CUDA is available, else the CPU."""

import pytest
import torch

from tunesmith.train.distributed import World


@pytest.mark.parametrize(("cuda", "size", "local_rank", "expected"), [
    (False, 1, None, "cpu"), (False, 2, "1", "cpu"), (True, 1, None, "cuda:0"), (True, 2, "1", "cuda:1")])
def test_device_follows_cuda_and_local_rank(monkeypatch, cuda, size, local_rank, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert World(rank=int(local_rank or 0), size=size).device == torch.device(expected)
