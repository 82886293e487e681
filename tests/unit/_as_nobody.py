"""Run a piece of this test process as an unprivileged user: root reads and writes anything.

A forked child drops to uid/gid 65534 (nobody, no groups) and runs the function; no program is
executed, so it works wherever this process's Python lives (CI's is pyenv's, under /root: a
child *program* run as nobody could not even start). Needs root; the caller checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable

NOBODY = 65534


def run_as_nobody(work: Callable[[], str]) -> str:
    """``work()``'s text, computed as uid 65534; its exception, if any, as an AssertionError here."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = work()
        except BaseException as exc:  # reported to the parent, whatever it is
            out, code = f"{type(exc).__name__}: {exc}", 1
        try:
            os.write(write, out.encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise AssertionError(f"as uid {NOBODY}: {out}")
    return out
