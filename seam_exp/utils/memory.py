"""Peak resident memory of the current job, what a cluster's memory request has to cover.

Sweep workers (joblib's loky processes) run several jobs one after another, so the process-wide maximum
(`ru_maxrss`) would carry one job's peak into the next. On Linux the kernel's high-water mark (VmHWM) can be
reset by writing 5 to /proc/self/clear_refs, which gives each job its own peak; elsewhere the process-wide
maximum is reported, an upper bound.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new peak measurement; False where the platform cannot (the peak is then the process's)."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def peak_mib() -> float:
    """Peak resident memory since the last reset_peak (or since the process started), in MiB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
