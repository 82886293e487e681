"""Reading untrusted report files: JSON as the standard defines it, values read by type.

The bounded, confined reads are :mod:`dr_lib.reportdir`'s (no links, no FIFOs, nothing outside the
report, a size limit); here a document becomes values, and a wrong type reads as absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dr_lib.reportdir import Unreadable, read_bounded

__all__ = ["Unreadable", "mapping", "number", "parse_json", "read_json", "sequence", "text"]


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
