"""Crash-safe JSON files of the restore area (ledgers, the auto-restore state)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from dr_lib.errors import EnvironmentProblem


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory: old or new, never half.

    ``indent=None`` for big values: only unindented JSON uses the C encoder (10x faster).
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with temp.open("w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # ledgers name every object restored, Secrets included
            handle.write(json.dumps(value, indent=indent, sort_keys=True, default=str))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise EnvironmentProblem(f"cannot write {str(path)!r}: {exc.strerror or exc}",
                                 hint="set restore.state_dir to a writable directory") from None


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when the file does not exist or is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
