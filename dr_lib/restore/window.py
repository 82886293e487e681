"""A sliding window over a thread pool: every worker stays busy, yet at no moment are more than
``window`` items started whose results are not yet flushed (the restore journal's bound).

The applier used to hand a whole tier to ``pool.map``; journaling it in batches with a barrier
between them cost ~20% of a 10,000-object restore (each batch waited for its slowest object). Here
results are taken in the order they complete and flushed every ``flush_every`` of them, and a new
item is started only while ``started − flushed < window`` — so a process killed at any moment has
applied at most ``window`` items its journal does not name.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_windowed(pool: Executor, items: Sequence[T], work: Callable[[T], R | None], *, window: int,
                 flush_every: int, flush: Callable[[list[R]], None],
                 stopped: Callable[[], bool] = lambda: False) -> list[R]:
    """``work`` over ``items``; the non-None results in the items' order. ``flush`` gets them as they complete.

    After ``stopped()`` turns true no item is started; those running finish and are flushed.
    """
    window = max(1, window)
    flush_every = max(1, min(flush_every, window))
    completed: queue.SimpleQueue[tuple[int, Future[R | None]]] = queue.SimpleQueue()
    results: dict[int, R] = {}
    unflushed: list[R] = []
    running = started = 0
    while started < len(items) or running:
        while started < len(items) and running + len(unflushed) < window and not stopped():
            pool.submit(work, items[started]).add_done_callback(_reporting(completed, started))
            started += 1
            running += 1
        if not running:
            if not unflushed:
                break  # stopped: nothing runs, nothing more may start
            flush(unflushed)  # the window is full of results only: flush them, then start more
            unflushed = []
            continue
        index, future = completed.get()
        running -= 1
        value = future.result()
        if value is not None:
            results[index] = value
            unflushed.append(value)
        if len(unflushed) >= flush_every or (not running and unflushed):
            flush(unflushed)
            unflushed = []
    if unflushed:
        flush(unflushed)
    return [results[index] for index in sorted(results)]


def _reporting(completed: queue.SimpleQueue[tuple[int, Future[R | None]]],
               index: int) -> Callable[[Future[R | None]], None]:
    return lambda future: completed.put((index, future))
