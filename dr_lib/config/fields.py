"""Field building blocks: the `_spec` marker (default, accepted, check) and shared validators."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/k3s-dr/config.yaml")
DEFAULT_KEYS_DIR = "/etc/k3s-dr/keys"  # where `k3s-dr install` makes the signing key pair (root only)
ENV_PREFIX = "K3S_DR_"
CONFIG_ENV = "K3S_DR_CONFIG"

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_UNITS = (86400, 3600, 60, 1)
DURATION_ACCEPTED = "a duration such as 90s, 5m, 1h30m or 2d (a plain number is seconds)"
_SIZE = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)?$")
_SIZE_UNITS = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def parse_duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` or a plain number of seconds → seconds (ValueError if not)."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(text)
    return sum(int(part) * unit for part, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if part)


def parse_size(text: str) -> int:
    """``"500Mi"``, ``"16Gi"``, ``"1Ti"`` (binary units, as Kubernetes writes them) or a plain number of bytes."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def _spec(default: Any, accepted: str, check: Callable[[Any], bool] = lambda _v: True) -> Any:
    return field(default=default, metadata={"accepted": accepted, "check": check})


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fraction(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _file_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "/" not in value and value not in {".", ".."}


def _absolute(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


def _unit(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9@._:-]+\.(service|timer)", value) is not None


def _duration(value: Any) -> bool:
    try:
        return parse_duration(str(value)) > 0
    except ValueError:
        return False


def _size(value: Any) -> bool:
    try:
        return parse_size(str(value)) > 0
    except ValueError:
        return False
