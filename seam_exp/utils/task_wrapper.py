"""Run an experiment so that a failed sweep job is recorded, not fatal to its siblings.

In a single run an exception propagates (non-zero exit); a UserError is one line on stderr and exit 2. In a multirun the job writes FAILED.txt with
the one-line reason into its folder and returns, so the other cells finish and the aggregation can
report the missing cell.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from seam_exp.errors import UserError
from seam_exp.utils.runtime import in_multirun, output_dir

log = logging.getLogger(__name__)
FAILED_MARKER = "FAILED.txt"


def task_wrapper(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapped(cfg):
        try:
            return fn(cfg)
        except Exception as exc:
            if not in_multirun():
                if isinstance(exc, UserError):
                    print(f"error: {exc}", file=sys.stderr)
                    sys.exit(2)
                raise
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.error("job failed, the sweep goes on: %s", reason)
            out = output_dir()
            out.mkdir(parents=True, exist_ok=True)
            (out / FAILED_MARKER).write_text(reason + "\n\n" + traceback.format_exc())
            return None

    return wrapped
