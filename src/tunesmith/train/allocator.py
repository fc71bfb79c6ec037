"""Bound the memory the C allocator keeps back from the operating system (glibc only; a no-op elsewhere).

Bounding costs time, so `training.release_memory` decides; its "auto" is decided with gradient checkpointing
by the memory available at training start (plan/savers.py). Measured on SmolLM2-135M LoRA, quickstart
settings, 2 threads, checkpointing on: 1.39 GB peak and ~15 s per step bounded, 2.49 GB and ~9 s not
(bench/results/train_memory.md). The planner adds the retention when training will not bound it.

glibc serves a large request from the heap once a freed block of that size has raised its mmap threshold
(up to 32 MiB), and then keeps the freed block for reuse. A training step makes hundreds of short-lived
~MB-sized forward tensors, so the heap grew by ~0.6 × every block's activations and never shrank
(SmolLM2-135M LoRA at the quickstart's settings: 2.22 GB peak with checkpointing, 1.44 GB with the threshold
fixed; bench/results/train_memory.md). `bound_retention` fixes the threshold at training start: every
request of MMAP_THRESHOLD or more is mapped on its own and unmapped when freed, so freed activations go back
at once. It must be a mallopt call: glibc reads MALLOC_MMAP_THRESHOLD_ only when the process starts.

`release_freed_memory` gives back what smaller freed blocks left in the heap, before validation and
checkpoint saves; it is not done after every step, since the next step would fault every page in again.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, here kept fixed instead of rising with each free


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):  # musl and other C libraries have neither malloc_trim nor mallopt
        return None


def bound_retention(libc: ctypes.CDLL | None = None) -> bool:
    """Fix glibc's mmap threshold for the rest of the process; returns whether it was set (False off glibc)."""
    libc = libc if libc is not None else _glibc()
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) if libc is not None else False


def release_freed_memory() -> bool:
    """Returns whether anything was given back (False where the C library cannot trim)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
