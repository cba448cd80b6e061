"""What machine a benchmark ran on (printed with every result)."""

from __future__ import annotations

import os
import platform
import resource


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {cpu}, Python {platform.python_version()}"


def peak_rss_gb() -> float:
    """The process's peak RSS in GB of 10^9 bytes, the estimate's unit (Linux gives ru_maxrss
    in KiB: before 2026-11-29 this divided it by 10^6, 2.4 % under GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def rss_gb() -> float:
    """The process's RSS now, in GB of 10^9 bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9
