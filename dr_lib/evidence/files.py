"""Reading and writing report files: writes atomic, reads bounded and confined.

Report directories are read back later, possibly after someone else had their hands on them:
every read here refuses links, non-regular files (a FIFO would block), files outside the
directory they belong to and files larger than the caller's limit.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from dr_lib.atomic import write_atomic
from dr_lib.errors import EnvironmentProblem

REPORT_FILE_MODE = 0o644


class Unreadable(Exception):
    """A report file that cannot be taken as evidence; the message says why (shown in the index)."""


def write_file(path: Path, data: bytes | str) -> Path:
    """Write atomically: readers see the old file or the whole new one, never a part."""
    try:
        write_atomic(path, data, mode=REPORT_FILE_MODE, temp_name=f".{path.name}.{os.getpid()}.tmp")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {str(path)!r}: {exc.strerror}") from None
    return path


def inside(root: Path, path: Path) -> bool:
    """``path`` names something inside ``root`` once every link is resolved."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def regular_file(root: Path, path: Path) -> str | None:
    """Why ``path`` is not a plain file inside ``root`` (None: it is one)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if not inside(root, path):
        return "is outside its report directory"
    return None


def read_bounded(root: Path, path: Path, limit: int) -> bytes:
    """The bytes of a plain file inside ``root`` of at most ``limit`` bytes, or :class:`Unreadable`."""
    problem = regular_file(root, path)
    if problem is not None:
        raise Unreadable(f"{path.name} {problem}")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"{path.name} cannot be read ({exc.strerror})") from None
    if len(data) > limit:
        raise Unreadable(f"{path.name} is larger than {limit} bytes")
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes, name: str) -> Any:
    """JSON as the standard defines it (no NaN or Infinity); deep nesting is refused, not a crash."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise Unreadable(f"{name} is not UTF-8") from None
    except RecursionError:
        raise Unreadable(f"{name} is nested too deeply") from None
    except ValueError as exc:
        raise Unreadable(f"{name} is not valid JSON ({str(exc)[:120]})") from None


def read_json(root: Path, path: Path, limit: int) -> Any:
    return parse_json(read_bounded(root, path, limit), path.name)


# Typed reads of untrusted JSON values: a wrong type reads as absent, never as a crash.
def text(value: Any, limit: int = 300) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    shown = str(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
