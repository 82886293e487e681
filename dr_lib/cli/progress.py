"""Progress on the terminal while a job runs: the backup's status line, the restore's periodic line."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

import click

from dr_lib.clock import monotonic

if TYPE_CHECKING:  # types only: the backup command must not load the restore code, nor the reverse
    from dr_lib.jobs.backup import Progress
    from dr_lib.restore.ledger import Entry


class BackupStatusLine:
    """One self-overwriting status line on stderr, at most ten updates a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < 0.1 and progress.kinds_done < progress.kinds_total:
                return
            self._last = now
            self._shown = True
            sys.stderr.write(f"\rbacking up: {progress.kinds_done}/{progress.kinds_total} kinds, "
                             f"{progress.objects:,} objects ")
            sys.stderr.flush()

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class RestoreProgress:
    """A line on the terminal every couple of seconds while objects are restored."""

    EVERY_SECONDS = 2.0

    def __init__(self) -> None:
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._last = monotonic()

    def __call__(self, entry: Entry) -> None:
        with self._lock:
            self.done += 1
            self.failed += entry.result == "failed"
            if monotonic() - self._last >= self.EVERY_SECONDS:
                self._last = monotonic()
                click.echo(f"k3s-dr: {self.done} objects done ({self.failed} failed), tier {entry.tier}", err=True)
