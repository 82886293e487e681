"""Atomic file writes (parents created) and a blocking lock for the local clusters' files."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from dr_lib import atomic


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Temp file in the same directory, fsync, rename over ``path``, fsync the directory.

    Creates missing parent directories; raises OSError (see :func:`dr_lib.atomic.write_atomic`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(path, data, mode=mode)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the ``with`` block; waits for it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
