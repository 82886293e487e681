"""Polling with a deadline: every wait in restore ends, one way or the other."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from dr_lib.clock import monotonic

T = TypeVar("T")


def poll_until(fetch: Callable[[], T], done: Callable[[T], bool], deadline: float, *,
               clock: Callable[[], float] = monotonic, sleep: Callable[[float], None] = time.sleep,
               interval: float = 0.2, max_interval: float = 2.0) -> T | None:
    """Call ``fetch`` until ``done`` says yes (its value is returned) or ``deadline`` passes (None).

    ``fetch`` runs at least once, even past the deadline. The interval grows by half each
    round up to ``max_interval``: quick for the common short wait, gentle for long ones.
    """
    while True:
        value = fetch()
        if done(value):
            return value
        now = clock()
        if now >= deadline:
            return None
        sleep(min(interval, max(deadline - now, 0.0)))
        interval = min(interval * 1.5, max_interval)
