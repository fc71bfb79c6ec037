"""Hand memory the C allocator keeps back to the operating system (glibc only; a no-op elsewhere).

A training step's freed activations stay in glibc's heap, so without this the process stays at its
first step's high through validation and checkpoint saves, the phases where a laptop most needs it back.
Trimming is not done after every step: the next step would fault every page in again.
"""

from __future__ import annotations

import ctypes
import functools
import sys


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return None


def release_freed_memory() -> bool:
    """Returns whether anything was given back (False where the C library cannot trim)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
