"""The one door for running programs: an argv (never a shell string), a deadline, errors in our hierarchy.

Shaped like testinfra's ``host.run()`` → ``CommandResult``: :func:`run` returns what the
program did as a value (argv, exit status, stdout, stderr, seconds). It raises only when that
value cannot be had or is an error: the program is not installed (:class:`ToolMissing`), it
ran past its deadline (:class:`DeadlineExceeded`, the program killed), or it exited non-zero
(:class:`CommandFailed` with the status and the tail of its stderr; ``check=False`` returns
the result instead). Environment values are never part of a message, a result or a log:
secrets go to a program through its environment, never through its argv, which messages show.

Two needs beyond a captured run, for programs that move whole volumes (``zfs send``/``receive``):
``stdin`` may be a binary stream, and ``stdout_to`` takes stdout chunk by chunk instead of
keeping it. Both ends are then pumped at once (stdin from a thread), so neither side can
block the other, and the deadline still holds. Without ``stdin`` a program reads an empty
stdin: it never waits on the operator's terminal.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dr_lib.clock import monotonic
from dr_lib.errors import CommandFailed, DeadlineExceeded, EnvironmentProblem, ToolMissing

MESSAGE_STDERR_CHARS = 300  # stderr's tail in an error message: the line that says why, not a log
MESSAGE_ARGV_CHARS = 160
CHUNK = 1 << 20

Stdin = bytes | str | IO[bytes] | None
Sink = Callable[[bytes], None]


@dataclass(frozen=True)
class CommandResult:
    """One finished program: what ran, how it ended, what it printed (stdout empty when streamed)."""

    argv: tuple[str, ...]
    returncode: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    seconds: float

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0

    def stderr_tail(self, chars: int = MESSAGE_STDERR_CHARS) -> str:
        return self.stderr.strip()[-chars:]


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one quoted line for messages, cut short: the program and its first arguments."""
    line = shlex.join(argv)
    return line if len(line) <= MESSAGE_ARGV_CHARS else line[:MESSAGE_ARGV_CHARS - 1] + "…"


def run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None, inherit_env: bool = True,
        cwd: Path | None = None, stdin: Stdin = None, stdout_to: Sink | None = None,
        check: bool = True) -> CommandResult:
    """Run ``argv`` to completion within ``timeout`` seconds.

    ``env`` adds to this process's environment, or is the whole of it with ``inherit_env=False``.
    """
    args = tuple(str(a) for a in argv)
    environment = None if env is None and inherit_env else {**(os.environ if inherit_env else {}), **(env or {})}
    started = monotonic()
    if stdout_to is None and (stdin is None or isinstance(stdin, (bytes, str))):
        data = stdin.encode() if isinstance(stdin, str) else stdin
        try:
            done = subprocess.run(args, input=data, stdin=subprocess.DEVNULL if data is None else None,
                                  capture_output=True, timeout=timeout, env=environment, cwd=cwd, check=False)
        except subprocess.TimeoutExpired:
            raise _past_deadline(args, timeout) from None
        except OSError as exc:
            raise _start_error(args, cwd, exc) from None
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        code, out, err = _pump(args, timeout, env=environment, cwd=cwd, stdin=stdin, sink=stdout_to)
    result = CommandResult(args, code, out, err, monotonic() - started)
    if check and code != 0:
        tail = result.stderr_tail()
        raise CommandFailed(f"`{command_line(args)}` failed (exit {code}): {tail or '(no stderr)'}",
                            returncode=code, stderr=tail)
    return result


def _past_deadline(argv: tuple[str, ...], timeout: float) -> DeadlineExceeded:
    return DeadlineExceeded(f"`{command_line(argv)}` did not finish within {timeout:g} s: stopped")


def _start_error(argv: tuple[str, ...], cwd: Path | None, exc: OSError) -> EnvironmentProblem:
    program = Path(argv[0]).name
    if isinstance(exc, FileNotFoundError) and exc.filename in (argv[0], None):
        where = f"{argv[0]!r} does not exist" if "/" in argv[0] else f"no {argv[0]!r} on PATH"
        return ToolMissing(f"{program} is not installed ({where})")
    where = f" in {str(cwd)!r}" if cwd is not None else ""
    return EnvironmentProblem(f"cannot run {program}{where}: {exc.strerror or exc}")


def _pump(argv: tuple[str, ...], timeout: float, *, env: dict[str, str] | None, cwd: Path | None, stdin: Stdin,
          sink: Sink | None) -> tuple[int, bytes, bytes]:
    """Popen with stdin fed from a thread, stderr drained by another, stdout read here (to ``sink``).

    The sink's and the stdin source's own errors are raised as they are: they are not the program's.
    """
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    except OSError as exc:
        raise _start_error(argv, cwd, exc) from None
    with child:
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            child.kill()

        watchdog = threading.Timer(timeout, expire)
        failures: list[BaseException] = []
        err = bytearray()
        helpers = [threading.Thread(target=_drain, args=(child.stderr, err), daemon=True)]
        if stdin is not None:
            helpers.append(threading.Thread(target=_feed, args=(stdin, child.stdin, child, failures), daemon=True))
        watchdog.start()
        try:
            for helper in helpers:
                helper.start()
            out = _read_stdout(child.stdout, sink)
            code = child.wait()
        except BaseException:
            child.kill()  # the sink failed (disk full) or we were interrupted: never leave the program running
            raise
        finally:
            watchdog.cancel()
            for helper in helpers:
                helper.join()
    if expired.is_set():
        raise _past_deadline(argv, timeout)
    if failures:
        raise failures[0]
    return code, out, bytes(err)


def _read_stdout(stream: IO[bytes] | None, sink: Sink | None) -> bytes:
    kept = bytearray()
    while stream is not None and (chunk := stream.read(CHUNK)):
        if sink is None:
            kept += chunk
        else:
            sink(chunk)
    return bytes(kept)


def _drain(stream: IO[bytes] | None, into: bytearray) -> None:
    while stream is not None and (chunk := stream.read(CHUNK)):
        into += chunk


def _feed(source: Stdin, target: IO[bytes] | None, child: subprocess.Popen[bytes],
          failures: list[BaseException]) -> None:
    """Copy ``source`` into the program's stdin; a program that stops reading early is not our error."""
    assert target is not None
    try:
        # BrokenPipeError: it exited or closed its stdin; its exit status says whether that was a failure.
        with contextlib.suppress(BrokenPipeError), target:
            if isinstance(source, (bytes, str)):
                target.write(source.encode() if isinstance(source, str) else source)
            else:
                while source is not None and (chunk := source.read(CHUNK)):
                    target.write(chunk)
    except BaseException as exc:  # noqa: BLE001 - reading the source failed: re-raised by the caller's thread
        failures.append(exc)
        child.kill()
