"""What a job cost, logged by every job as it ends and read back by reporting/costs.py: its wall time, the CPU
time of its process (all its threads) and the machine's load average at the end.

CPU over wall says whether the job had its cores to itself: a one-thread job near 1.0 ran unhindered, one at
0.5 shared its core with another job. A figure read off a job whose CPU share is low is a loaded machine's.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

LINE = re.compile(r"job time: wall ([\d.]+) s, cpu ([\d.]+) s, load average ([\d.]+)")


@dataclass(frozen=True)
class JobTime:
    wall_s: float
    cpu_s: float
    load_average: float  # the machine's 1-minute load average as the job ended

    def line(self) -> str:
        return f"job time: wall {self.wall_s:.1f} s, cpu {self.cpu_s:.1f} s, load average {self.load_average:.2f}"


class JobClock:
    """Started as a job starts; `elapsed()` is the job's JobTime so far."""

    def __init__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def elapsed(self) -> JobTime:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        return JobTime(time.perf_counter() - self.wall0, time.process_time() - self.cpu0, load)


def parse(text: str) -> JobTime | None:
    """The last job-time line of a job's log, or None (a job that never ended, or ran before it was logged)."""
    found = LINE.findall(text)
    return JobTime(*map(float, found[-1])) if found else None
