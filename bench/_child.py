"""One child process measured: wall seconds, CPU seconds and its own peak memory.

Peak memory is the child's ``VmHWM`` (/proc/PID/status), read every few milliseconds while it
runs — not ``wait4``'s ``ru_maxrss``: Linux carries the RSS of the address space a process
exec()s away from into that number, so a child started by a bench holding 200 MB of objects
reported 200 MB even for ``sleep`` (measured: 313 MB for ``/bin/sleep`` under a 300 MB parent).
The last reading before the child exits is its peak, give or take what it allocates in its
final few milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    cpu_s: float
    returncode: int


def _hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def run_measured(argv: list[str], env: dict[str, str] | None = None,
                 stdout: IO[Any] | int = subprocess.DEVNULL) -> Measured:
    """Run ``argv`` to its end, measured; RuntimeError with the tail of its stderr when it fails."""
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe nobody reads while we wait
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr)
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen = _hwm_kb(child.pid)
                if seen is not None:
                    peak[0] = max(peak[0], seen)
                time.sleep(POLL_SECONDS)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{argv[0]} exited {child.returncode}: {stderr.read().decode()[-800:]}")
    return Measured(seconds, peak[0] / 1024, usage.ru_utime + usage.ru_stime, child.returncode)
