"""Memory the C allocator keeps after a training step goes back to the OS before validation and saves."""

from __future__ import annotations

import subprocess
import sys

import pytest
from train_helpers import chat_records, tiny_config

from tunesmith.train import loop, run_training
from tunesmith.train.allocator import _glibc, release_freed_memory

# In a fresh process: 100 KB tensors (below glibc's mmap threshold, so they live in the heap), nine of ten freed;
# the survivors pin the heap so glibc cannot shrink it by itself. RSS in MB: after freeing, after releasing.
FRAGMENTED_HEAP = """
import psutil, torch
from tunesmith.train.allocator import release_freed_memory
rss = lambda: psutil.Process().memory_info().rss / 1e6
blocks = [torch.ones(25_000) for _ in range(2000)]
kept = blocks[::10]
del blocks
freed = rss()
release_freed_memory()
print(freed, rss())
"""


@pytest.mark.skipif(_glibc() is None, reason="needs glibc's malloc_trim")
def test_release_gives_a_fragmented_heap_back():
    done = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True)
    freed, released = map(float, done.stdout.split())
    assert freed - released > 100  # of the ~180 MB freed


def test_training_releases_before_each_validation_and_checkpoint(tiny_lm_dir, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(loop, "release_freed_memory", lambda: calls.append(1) or release_freed_memory())
    run_training(tiny_config(tiny_lm_dir, epochs=1, eval_every=3), chat_records(12), chat_records(4, seed=3),
                 tmp_path / "run")
    assert len(calls) == 2  # step 3: one validation and one checkpoint
