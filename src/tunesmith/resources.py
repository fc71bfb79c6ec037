"""Process resource readings shared by training records and the planner."""

from __future__ import annotations


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes.

    Linux's ru_maxrss carries over the parent's RSS at fork into an exec'd child, so a measurement
    process started from a big parent (a test runner, the studio) would report the parent's size;
    VmHWM belongs to this process's own address space.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
