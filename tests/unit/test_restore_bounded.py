"""bounded_map: Executor.map's results, with at most ``window`` tasks held at once (issue 19)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from dr_lib.restore.bounded import bounded_map


def test_results_come_in_the_items_order_whatever_order_they_finish_in() -> None:
    with ThreadPoolExecutor(8) as pool:
        results = bounded_map(pool, lambda i: (time.sleep(0.001 * (i % 5)), i * i)[1], range(200), window=7)
    assert results == [i * i for i in range(200)]


def test_no_more_than_window_items_are_taken_ahead_of_those_finished() -> None:
    finished = 0
    lock = threading.Lock()
    behind: list[int] = []

    def items() -> Iterator[int]:
        for n in range(300):
            with lock:
                behind.append(n - finished)  # items taken but not finished, when item n is taken
            yield n

    def work(n: int) -> int:
        nonlocal finished
        with lock:
            finished += 1
        return n

    with ThreadPoolExecutor(4) as pool:
        assert bounded_map(pool, work, items(), window=10) == list(range(300))
    assert max(behind) <= 10


def test_a_failure_propagates_and_what_has_not_started_is_cancelled() -> None:
    ran: list[int] = []

    def work(n: int) -> int:
        ran.append(n)
        if n == 0:
            time.sleep(0.05)
            raise RuntimeError("boom")
        time.sleep(0.05)
        return n

    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="boom"):
        bounded_map(pool, work, range(100), window=5)
    assert len(ran) < 100


def test_a_window_below_one_is_refused() -> None:
    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="at least 1"):
        bounded_map(pool, lambda n: n, [1], window=0)
