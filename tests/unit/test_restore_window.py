"""The applier's sliding window on a real thread pool: results in the items' order, every worker busy,
and never more than ``window`` started items whose results are not yet flushed — also after a stop."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dr_lib.restore.window import run_windowed


@pytest.mark.parametrize(("items", "window", "flush_every", "workers"), [
    (1000, 64, 8, 8), (500, 16, 32, 4), (7, 256, 32, 16), (0, 8, 2, 2), (300, 1, 1, 3)])
def test_order_results_and_the_bound(items: int, window: int, flush_every: int, workers: int) -> None:
    flushed: list[int] = []
    in_window: list[int] = []  # at each start: items running + items done with a result not yet flushed
    lock = threading.Lock()
    running: set[int] = set()
    done: set[int] = set()

    def work(item: int) -> int | None:
        with lock:
            running.add(item)
            in_window.append(len(running) + len(done))
        time.sleep(random.random() / 2000)
        result = None if item % 7 == 3 else item  # some items leave no result (never started: nothing to name)
        with lock:
            running.discard(item)
            if result is not None:
                done.add(item)
        return result

    def flush(results: list[int]) -> None:
        with lock:
            flushed.extend(results)
            done.difference_update(results)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = run_windowed(pool, list(range(items)), work, window=window, flush_every=flush_every, flush=flush)
    expected = [i for i in range(items) if i % 7 != 3]
    assert results == expected
    assert sorted(flushed) == expected
    assert max(in_window, default=0) <= window


def test_a_stop_starts_nothing_more_and_flushes_what_ran() -> None:
    stop = threading.Event()
    started: list[int] = []
    flushed: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if len(started) >= 100:
            stop.set()
        time.sleep(0.0005)
        return item

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = run_windowed(pool, list(range(10_000)), work, window=32, flush_every=4, flush=flushed.extend,
                               stopped=stop.is_set)
    assert 100 <= len(started) <= 100 + 32, "no item starts once the stop is seen; the window bounds the rest"
    assert results == sorted(started) and sorted(flushed) == sorted(started)


def test_a_bug_in_the_work_is_not_swallowed() -> None:
    def work(item: int) -> int:
        if item == 5:
            raise RuntimeError("boom")
        return item

    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(RuntimeError, match="boom"):
        run_windowed(pool, list(range(20)), work, window=4, flush_every=2, flush=lambda _r: None)
