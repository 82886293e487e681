"""SIGTERM and SIGINT during a restore: stop between writes, never in the middle of one.

While the applier runs, the first SIGTERM or SIGINT only sets a flag: no new object is started,
the objects in flight finish (their waits end at once: every deadline reads as passed), the
ledger records what was applied and that the restore was interrupted, and the command exits
130. A second signal acts as it normally does (Ctrl-C raises, SIGTERM ends the process): the
journal then still names every object applied before the first one.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """Set once, from a signal handler or a test; read by the applier's threads."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    def set(self, name: str) -> None:
        if not self._event.is_set():
            self.signal_name = name
            self._event.set()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def deadline_clock(self, clock: Callable[[], float]) -> Callable[[], float]:
        """``clock`` until a stop; then infinity, so every wait's deadline has passed and it ends at once."""
        return lambda: math.inf if self._event.is_set() else clock()


@contextlib.contextmanager
def stop_on_signals(stop: StopSignal) -> Iterator[StopSignal]:
    """Route SIGTERM and SIGINT to ``stop`` inside the block (only the main thread can: elsewhere it is a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set(signal.Signals(signum).name)
        for sig, old in previous.items():  # the second signal is not ours to soften
            signal.signal(sig, old)

    for ours in SIGNALS:
        signal.signal(ours, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
