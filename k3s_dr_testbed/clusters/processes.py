"""Spawning and stopping the cluster's processes, with deadlines and no leftovers.

A process is identified by its pid *and* its start time (field 22 of /proc/PID/stat), so a
pid reused by an unrelated process after ours died is never signalled. Processes owned by a
test run get PR_SET_PDEATHSIG=SIGKILL: if pytest is killed, the kernel kills them too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dr_lib.errors import ClusterError, DeadlineExceeded, EnvironmentProblem

_PR_SET_PDEATHSIG = 1
_POLL = 0.05
# Popen objects of the processes this Python process started, so they are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_EXIT_STATUS: dict[int, int] = {}


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(str(data["name"]), int(data["pid"]), int(data["start_ticks"]), str(data["log"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return text[text.rindex(")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(record: ProcessRecord) -> bool:
    child = _CHILDREN.get(record.pid)
    if child is not None and child.poll() is not None:
        _EXIT_STATUS[record.pid] = child.returncode
        del _CHILDREN[record.pid]
        return False
    fields = _stat_fields(record.pid)
    if fields is None or int(fields[19]) != record.start_ticks:
        return False
    if fields[0] in ("Z", "X"):
        # A thread-group leader shows Z while its other threads still exit and hold its sockets.
        return _thread_count(record.pid) > 1
    return True


def _thread_count(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died between fork and prctl: then we would never get the signal.
    if os.getppid() == 1:
        os._exit(1)


def spawn(name: str, argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None,
          die_with_parent: bool = False, cwd: Path | None = None) -> ProcessRecord:
    """Start ``argv`` in its own session (Ctrl-C in a terminal does not reach it), output to ``log_path``.

    ``die_with_parent`` only holds while the calling *thread* lives (a Linux rule), so it is
    applied only from the main thread; other callers rely on the stale-state sweep.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pdeath = die_with_parent and threading.current_thread() is threading.main_thread()
    with log_path.open("ab") as log:
        try:
            # preexec_fn only calls prctl (async-signal-safe); nothing in it takes a lock.
            child = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_parent if pdeath else None,  # noqa: PLW1509
            )
        except OSError as exc:
            raise EnvironmentProblem(f"cannot start {name} ({argv[0]}): {exc.strerror}") from None
    _CHILDREN[child.pid] = child
    ticks = start_ticks(child.pid)
    return ProcessRecord(name, child.pid, ticks if ticks is not None else -1, str(log_path))


def log_tail(path: str | Path, lines: int = 15, max_bytes: int = 16384) -> str:
    """The log's last non-empty lines joined by `` | ``: an error that quotes them stays one line."""
    try:
        with Path(path).open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in data.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(empty log)"


def _signal(record: ProcessRecord, sig: int) -> None:
    if is_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)


def wait_gone(records: Iterable[ProcessRecord], deadline: float, clock: Callable[[], float] = time.monotonic
              ) -> list[ProcessRecord]:
    """Wait until every record is dead or ``deadline`` passes; returns those still alive."""
    pending = list(records)
    while True:
        pending = [r for r in pending if is_alive(r)]
        if not pending or clock() >= deadline:
            return pending
        time.sleep(_POLL)


def stop_group(records: Sequence[ProcessRecord], grace: float, kill_wait: float = 5.0) -> None:
    """SIGTERM all of ``records`` at once, SIGKILL what is left after ``grace`` seconds, wait."""
    for record in records:
        _signal(record, signal.SIGTERM)
    left = wait_gone(records, time.monotonic() + grace)
    for record in left:
        _signal(record, signal.SIGKILL)
    stuck = wait_gone(left, time.monotonic() + kill_wait)
    if stuck:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in stuck)
        raise DeadlineExceeded(f"{names} still running {kill_wait:.0f} s after SIGKILL")


def stop_in_order(groups: Sequence[Sequence[ProcessRecord]], grace: float) -> None:
    """Stop group by group (reverse start order is the caller's business)."""
    for group in groups:
        if group:
            stop_group(group, grace)


def check_running(records: Iterable[ProcessRecord]) -> None:
    """Raise with the log tail of the first process that has exited."""
    for record in records:
        if not is_alive(record):
            code = _EXIT_STATUS.get(record.pid)
            status = "" if code is None else f" with status {code}"
            raise ClusterError(
                f"{record.name} exited{status} while the cluster was starting; last lines of {record.log}: "
                f"{log_tail(record.log)}")
