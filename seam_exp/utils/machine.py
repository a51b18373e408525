"""What this machine offers a sweep: cores and memory, and how many jobs the local launcher runs at once."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or a batch slot's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity call
        return os.cpu_count() or 1


def physical_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def parallel_jobs(job_memory_gib: float) -> int:
    """How many sweep jobs the local launcher runs at once: one per core, each job one torch thread, as
    many as memory holds at `job_memory_gib` each. Two threads speed one run of the default models up 1.6-1.8
    times, two processes 2 times: on 2 cores two one-thread jobs finish a sweep sooner than one two-thread
    job at a time (docs/performance.md, "Jobs and threads")."""
    return max(1, min(usable_cores(), int(physical_memory_gib() // float(job_memory_gib))))
