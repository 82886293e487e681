"""The hashing threads' scheduling policy beside restic, read back from the kernel (real threads, no fakes)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from dr_lib.hooks.cpushare import BesideRestic


def in_thread(*steps: Callable[[], None]) -> list[int]:
    """Run ``steps`` in one new thread; the thread's policy (sched_getscheduler) after each."""
    seen: list[int] = []

    def run() -> None:
        for step in steps:
            step()
            seen.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen


def test_threads_take_idle_cycles_while_restic_runs_and_their_share_after() -> None:
    share = BesideRestic()
    assert in_thread(share.enter, share.release) == [os.SCHED_IDLE, os.SCHED_OTHER]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the releasing caller itself untouched


def test_a_thread_starting_after_restic_ended_keeps_the_normal_policy() -> None:
    share = BesideRestic()
    share.release()
    assert in_thread(share.enter) == [os.SCHED_OTHER]


def test_a_forgotten_thread_is_not_touched_by_the_release() -> None:
    """After its pool ended, a thread's id may belong to another thread: the release leaves it alone."""
    share = BesideRestic()
    assert in_thread(share.enter, share.forget, share.release) == [os.SCHED_IDLE, os.SCHED_IDLE, os.SCHED_IDLE]
