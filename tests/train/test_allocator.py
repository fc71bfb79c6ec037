"""The C allocator's retention is bounded at training start, and what it keeps goes back before validation and saves."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from train_helpers import chat_records, tiny_config

from tunesmith.train import allocator, loop, run, run_training
from tunesmith.train.allocator import _glibc, bound_retention, release_freed_memory

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


@pytest.mark.parametrize("release", [True, False])
def test_training_bounds_retention_when_told_and_releases_before_each_validation_and_checkpoint(
        tiny_lm_dir, tmp_path, monkeypatch, release):
    calls, bounded = [], []
    monkeypatch.setattr(loop, "release_freed_memory", lambda: calls.append(1) or release_freed_memory())
    monkeypatch.setattr(run, "bound_retention", lambda: bounded.append(1))  # (a real call would bind the suite)
    config = tiny_config(tiny_lm_dir, epochs=1, eval_every=3)
    config = config.model_copy(update={"training": config.training.model_copy(update={"release_memory": release})})
    result = run_training(config, chat_records(12), chat_records(4, seed=3), tmp_path / "run")
    assert len(calls) == 2  # step 3: one validation and one checkpoint
    assert len(bounded) == (1 if release else 0)  # once, at the start
    assert yaml.safe_load((result.run_dir / "config.yaml").read_text())["training"]["release_memory"] is release


# In a fresh process: a freed 4 MiB mapped block raises glibc's dynamic mmap threshold to 4 MiB, so by default
# the next 1 MiB request comes from the heap (and stays there once freed); with the threshold bounded it is
# mapped on its own. Prints the bytes newly mapped for that 1 MiB request.
MAPPED_AFTER_A_LARGE_FREE = """
import ctypes, sys
from tunesmith.train.allocator import _glibc, bound_retention
libc = _glibc()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
if sys.argv[1] == "bounded":
    assert bound_retention()
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(_glibc() is None or not hasattr(_glibc(), "mallinfo2"), reason="needs glibc >= 2.33")
def test_bounded_threshold_maps_mb_sized_blocks_after_a_large_free():
    def mapped(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", MAPPED_AFTER_A_LARGE_FREE, mode], capture_output=True,
                              text=True, check=True)
        return int(done.stdout)

    assert mapped("default") == 0  # glibc's dynamic threshold: the heap serves it, and keeps it when freed
    assert mapped("bounded") >= 1 << 20


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_bound_retention_sets_glibcs_mmap_threshold():
    libc = FakeLibc()
    assert bound_retention(libc)
    assert libc.calls == [(-3, 128 * 1024)]  # M_MMAP_THRESHOLD from malloc.h, glibc's initial 128 KiB


def test_bound_retention_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    assert bound_retention() is False
