"""A blocking, deadline-bounded inter-process lock (several engineers and test runs share one engine)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from dr_lib.errors import DeadlineExceeded

_POLL_SECONDS = 0.2


@contextlib.contextmanager
def held(lock_path: Path, deadline: float, what: str) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DeadlineExceeded(f"{what}: another process held {lock_path} until the deadline") from None
                time.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing releases the flock
