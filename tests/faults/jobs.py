"""RQ jobs that the fault suite queues for a worker to run: faults from inside a job."""

from __future__ import annotations

import os
import signal


def kill(pid: int) -> None:
    """SIGKILL process ``pid`` (the Redis server the job came from): the worker is in a job."""
    os.kill(pid, signal.SIGKILL)
