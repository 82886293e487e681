"""One lock for every run that writes archives or the cluster: backup and restore never overlap.

``fcntl.flock`` on a lock file: the kernel releases it when the process dies, even by
SIGKILL, so a crashed run never leaves a stale lock behind. The holder writes its pid and
what it does into the file, so a refused run can say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from dr_lib.errors import EnvironmentProblem, LockBusy


def _holder(handle_fd: int) -> str:
    try:
        text = os.pread(handle_fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return "another process"
    return text or "another process"


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold the lock at ``path`` for the block; raise :class:`LockBusy` at once if it is taken."""
    lock_path = Path(path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot open the lock file {str(lock_path)!r}: {exc.strerror}",
                                 hint="set backup.lock_file to a writable path") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"cannot {what}: {_holder(fd)} holds the lock {str(lock_path)!r}",
                           hint="wait for it to finish; the lock is released when that process exits") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({what})\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
