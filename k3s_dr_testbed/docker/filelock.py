"""A blocking, deadline-bounded inter-process lock (several engineers and test runs share one engine).

``deadline`` is a :func:`time.monotonic` value.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from dr_lib.atomic import wait_for_flock
from dr_lib.errors import DeadlineExceeded

_POLL_SECONDS = 0.2


@contextlib.contextmanager
def held(lock_path: Path, deadline: float, what: str) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not wait_for_flock(fd, deadline, poll=_POLL_SECONDS):
            raise DeadlineExceeded(f"{what}: another process held {lock_path} until the deadline")
        yield
    finally:
        os.close(fd)  # closing releases the flock
