"""Time, read only at the edges. Logic takes ``now`` as an argument so tests are exact."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def monotonic() -> float:
    return time.monotonic()
