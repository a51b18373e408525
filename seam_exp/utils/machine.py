"""What this machine offers a sweep: cores and memory, and how many jobs the local launcher runs at once."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (pinned cores; a CPU quota is not seen)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def physical_memory_gib() -> float:
    """The host's memory (a container's memory limit is not seen)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def parallel_jobs(job_memory_gib: float) -> int:
    """How many sweep jobs the local launcher runs at once: one per core, as many as memory holds at
    `job_memory_gib` each; the cores are then divided among them. Why and measured: docs/performance.md,
    "Jobs and threads"."""
    return max(1, min(usable_cores(), int(physical_memory_gib() // float(job_memory_gib))))
