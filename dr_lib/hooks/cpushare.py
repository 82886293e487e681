"""The hashing threads' CPU share beside ``restic backup``: idle cycles only while restic runs, a fair share after.

restic backup of a 2 GB volume used 175% of two cores, and our sha256 of the same bytes is ~1.4 s
of one core. At nice 10 the hashing still took about a tenth of a core from restic whenever both
wanted one (CFS weights 110 against 1024); under ``SCHED_IDLE`` it runs only when a core would
otherwise idle. Once restic is done the hashing is what the backup waits for, so the threads get
the normal policy back: a busy machine can slow a backup's hashing, never starve it (``SCHED_IDLE``
alone would). Where ``SCHED_IDLE`` is refused, nice 10 is the fallback.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

FALLBACK_NICE = 10


class BesideRestic:
    """Registers hashing threads (:meth:`enter`, a pool initializer) and releases them when restic ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[int] = []
        self._released = False

    def enter(self) -> None:
        """The calling thread takes idle cycles only — unless restic is already done."""
        tid = threading.get_native_id()
        with self._lock:
            if not self._released:
                self._threads.append(tid)
                _lower(tid)

    def release(self) -> None:
        """restic finished: every registered thread still alive gets the normal policy back."""
        with self._lock:
            self._released = True
            for tid in self._threads:
                if Path(f"/proc/self/task/{tid}").exists():  # ours and alive: a thread id is reused once it exits
                    _restore(tid)
            self._threads.clear()

    def forget(self) -> None:
        """The registered threads have ended (their pool was shut down): nothing to release for them."""
        with self._lock:
            self._threads.clear()


def _lower(tid: int) -> None:
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, tid, FALLBACK_NICE)


def _restore(tid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, tid, 0)
