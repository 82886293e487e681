"""Atomic small-file writes and the state file's lock.

The textfile must be readable by node_exporter (another user), so unlike archives it is
written 0644; the state file holds nothing secret either. Same pattern as archives: a
temporary sibling, fsync, rename, fsync the directory — a reader sees the old or the new file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from dr_lib.atomic import wait_for_flock, write_atomic
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem

TEMP_PREFIX = ".k3s-dr-tmp-"
PUBLIC_FILE_MODE = 0o644
LOCK_TIMEOUT_SECONDS = 10.0


def os_problem(exc: OSError, doing: str, path: Path) -> EnvironmentProblem:
    hint = None
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "run as a user that may write there, or point the metrics settings elsewhere"
    return EnvironmentProblem(f"cannot {doing} {str(path)!r}: {exc.strerror or type(exc).__name__}", hint=hint)


def atomic_write_text(path: Path, text: str, *, mode: int = PUBLIC_FILE_MODE, make_parents: bool = False) -> None:
    """Replace ``path`` with ``text``: temp file in the same directory, fsync, rename, fsync dir."""
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        # an exact mode: the umask must not make it unreadable for node_exporter
        write_atomic(path, text, mode=mode, temp_name=f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    except OSError as exc:
        raise os_problem(exc, "write", path) from None


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT_SECONDS,
           clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` so concurrent runs never lose each other's update."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise os_problem(exc, "open the lock", lock_path) from None
    try:
        if not wait_for_flock(fd, clock() + timeout, poll=0.05, clock=clock):
            raise DeadlineExceeded(f"{lock_path} stayed locked for {timeout:.0f} s")
        yield
    finally:
        os.close(fd)  # closing releases the lock
