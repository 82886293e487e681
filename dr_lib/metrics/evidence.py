"""A drill that ran elsewhere (in CI, on a throwaway cluster), recorded on this host from its evidence file.

Where drills run in CI, their metrics land on the runner and the host's K3sDrDrillTooOld would fire
forever; ``k3s-dr metrics record-drill evidence.json`` records the CI drill's verdict, RTO and RPO
here, at the time the drill finished. The file comes from another machine: it is read with a size
limit and every field is checked (format, verdict, times, finite non-negative seconds) before
anything is recorded; a drill from the future or older than the one recorded is refused.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.metrics.records import DrillRecord

# The drill's own constants (dr_lib.drill.evidence, a higher layer; a unit test keeps them equal).
EVIDENCE_FORMAT = "k3s-dr-drill-evidence"
EVIDENCE_VERSION = 1
MAX_EVIDENCE_BYTES = 64 * 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300.0
_DRILL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,6})?Z")


def _bad(path: Path, what: str) -> UsageError:
    return UsageError(f"drill evidence {str(path)!r}: {what}; accepted: the evidence.json a `k3s-dr drill` wrote "
                      f"(format {EVIDENCE_FORMAT!r}, version {EVIDENCE_VERSION})")


def _seconds(path: Path, data: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _bad(path, f"{key} is {str(value)[:40]!r}, not a number of seconds ≥ 0")
    return float(value)


def _finished(path: Path, value: Any, now: float) -> float:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _bad(path, f"finished is {str(value)[:40]!r}, not a UTC time such as 2026-12-01T03:40:12.345Z")
    at = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    if at > now + MAX_CLOCK_SKEW_SECONDS:
        raise _bad(path, f"the drill finished at {value}, in the future of this host's clock")
    return at


def read_evidence(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the drill evidence {str(path)!r}: {exc.strerror}") from None
    if len(raw) > MAX_EVIDENCE_BYTES:
        raise _bad(path, f"larger than {MAX_EVIDENCE_BYTES // (1024 * 1024)} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(path, f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise _bad(path, "not a JSON object")
    return data


def drill_record(path: Path, data: dict[str, Any], now: float) -> DrillRecord:
    """The record of the drill ``data`` describes (pure but for the file name in messages)."""
    if data.get("format") != EVIDENCE_FORMAT or data.get("format_version") != EVIDENCE_VERSION:
        raise _bad(path, f"format {str(data.get('format'))[:40]!r} version {str(data.get('format_version'))[:10]!r}")
    verdict = data.get("verdict")
    if verdict not in ("pass", "fail"):
        raise _bad(path, f"verdict is {str(verdict)[:40]!r}, not 'pass' or 'fail'")
    drill_id = data.get("drill_id")
    if not isinstance(drill_id, str) or _DRILL_ID.fullmatch(drill_id) is None:
        raise _bad(path, f"drill_id {str(drill_id)[:40]!r} is not a drill id")
    targets = data.get("targets")
    if not isinstance(targets, dict):
        raise _bad(path, "targets is not an object")
    failed_step = data.get("failed_step")
    if failed_step is not None and not isinstance(failed_step, str):
        raise _bad(path, "failed_step is not text")
    return DrillRecord(
        at=_finished(path, data.get("finished"), now), passed=verdict == "pass",
        rto_seconds=_seconds(path, data, "rto_seconds"), rpo_seconds=_seconds(path, data, "rpo_seconds"),
        rto_target_seconds=_seconds(path, targets, "rto_seconds"),
        rpo_target_seconds=_seconds(path, targets, "rpo_seconds"),
        drill_id=drill_id, failed_step=(failed_step or "")[:200], source=path.name[:200])


def evidence_record(path: Path, now: float) -> DrillRecord:
    return drill_record(path, read_evidence(path), now)
