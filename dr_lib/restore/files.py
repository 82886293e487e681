"""Crash-safe JSON files of the restore area (ledgers, the auto-restore state)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dr_lib.atomic import write_atomic
from dr_lib.errors import EnvironmentProblem


def write_json_atomic(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory: old or new, never half.

    ``indent=None`` for big values: only unindented JSON uses the C encoder (10x faster).
    """
    text = json.dumps(value, indent=indent, sort_keys=True, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # 0600: ledgers name every object restored, Secrets included
        write_atomic(path, text, mode=0o600, temp_name=f".{path.name}.{os.getpid()}.tmp")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {str(path)!r}: {exc.strerror or exc}",
                                 hint="set restore.state_dir to a writable directory") from None


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when the file does not exist or is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
