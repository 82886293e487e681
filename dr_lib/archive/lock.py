"""One lock for every run that writes archives or the cluster: backup and restore never overlap.

``fcntl.flock`` on a lock file: the kernel releases it when the process dies, even by
SIGKILL, so a crashed run never leaves a stale lock behind. The holder writes its pid and
what it does into the file, so a refused run can say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from dr_lib.atomic import wait_for_flock
from dr_lib.errors import EnvironmentProblem, LockBusy


def _holder(handle_fd: int) -> str:
    try:
        text = os.pread(handle_fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return "another process"
    return text or "another process"


def _take(fd: int, wait_seconds: float) -> bool:
    if wait_seconds <= 0:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    return wait_for_flock(fd, time.monotonic() + wait_seconds)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock at ``path`` for the block; raise :class:`LockBusy` if it is taken (at once, or
    after waiting ``wait_seconds`` for its holder to finish)."""
    lock_path = Path(path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot open the lock file {str(lock_path)!r}: {exc.strerror}",
                                 hint="set backup.lock_file to a writable path") from None
    try:
        if not _take(fd, wait_seconds):
            waited = f" (waited {wait_seconds:g} s)" if wait_seconds > 0 else ""
            raise LockBusy(f"cannot {what}: {_holder(fd)} holds the lock {str(lock_path)!r}{waited}",
                           hint="wait for it to finish; the lock is released when that process exits")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({what})\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
