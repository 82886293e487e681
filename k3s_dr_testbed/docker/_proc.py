"""Running host commands with a deadline, turning failures into our errors."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem


def seconds_left(deadline: float, what: str) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value); raises when it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"deadline passed before: {what}")
    return left


def run(argv: list[str], deadline: float, what: str, *, input_bytes: bytes | None = None) -> str:
    """Run ``argv`` to completion before ``deadline``; return stdout, raise with stderr's tail on failure."""
    try:
        done = subprocess.run(
            argv,
            input=input_bytes,
            capture_output=True,
            timeout=seconds_left(deadline, what),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"{what}: {argv[0]} did not finish before the deadline") from exc
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{what}: {argv[0]} is not installed") from exc
    if done.returncode != 0:
        raise EnvironmentProblem(f"{what} failed (exit {done.returncode}): {tail(done.stderr or done.stdout)}")
    return done.stdout.decode(errors="replace")


def tail(output: bytes | str, lines: int = 5) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        return tail(path.read_bytes()[-8192:], lines)
    except OSError:
        return "(no log)"
