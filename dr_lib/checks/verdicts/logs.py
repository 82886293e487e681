"""DR-LOG-001 and DR-LOG-002: the backup log shows a recent success and no errors, and it is rotated (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone

from dr_lib.checks.hostfacts import LOGROTATE_PATH, HostFacts
from dr_lib.checks.model import Finding, failed, passed
from dr_lib.checks.verdicts.files import age

_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_TIMESTAMP_WITHIN = 40  # characters from the line start where a log line's time may appear
_SHOWN_LINES = 3


def line_time(line: str, utc_offset: int) -> float | None:
    """Epoch seconds of the timestamp near the start of a log line (naive ones are host-local time)."""
    match = _TIMESTAMP.search(line[: _TIMESTAMP_WITHIN + 30])
    if match is None or match.start() > _TIMESTAMP_WITHIN:
        return None
    zone_text = match.group(3)
    if zone_text in (None, ""):
        zone = timezone(timedelta(seconds=utc_offset))
    elif zone_text == "Z":
        zone = UTC
    else:
        sign = -1 if zone_text[0] == "-" else 1
        digits = zone_text[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(tzinfo=zone)
    except ValueError:
        return None
    return moment.timestamp()


def timed_lines(lines: Iterable[str], utc_offset: int) -> Iterator[tuple[float, str]]:
    """Lines with their time; continuation lines (tracebacks) take the time of the line before."""
    current: float | None = None
    for line in lines:
        current = line_time(line, utc_offset) or current
        if current is not None:
            yield current, line


def log_recent(facts: HostFacts) -> Finding:
    log_file = facts.layout.config.backup.log_file
    lines = facts.files.log_lines
    if lines is None:
        return failed(f"{log_file} cannot be read: {facts.files.log_error or 'missing'}", f"{log_file}: none")
    rpo = facts.layout.rpo_seconds
    since = facts.files.clock.now - rpo
    checks = facts.layout.config.checks
    error, success = re.compile(checks.log_error_pattern), re.compile(checks.log_success_pattern)
    recent = [(t, line) for t, line in timed_lines(lines, facts.files.clock.utc_offset) if t >= since]
    errors = [line for _, line in recent if error.search(line)]
    successes = [line for _, line in recent if success.search(line)]
    evidence = (f"{log_file}: {len(recent)} line(s) in the last {age(rpo)} (RPO), {len(errors)} error line(s), "
                f"{len(successes)} success line(s)" + (f"; last success: {successes[-1][:160]}" if successes else ""))
    if errors:
        shown = " | ".join(e[:200] for e in errors[-_SHOWN_LINES:])
        return failed(f"{len(errors)} error line(s) in the last {age(rpo)}: {shown}", evidence)
    if not successes:
        return failed(f"no success logged in the last {age(rpo)}", evidence)
    return passed(evidence)


def logrotate_configured(facts: HostFacts) -> Finding:
    content = facts.files.content(LOGROTATE_PATH)
    log_file = facts.layout.config.backup.log_file
    if content is None:
        return failed(f"{LOGROTATE_PATH} is missing: {log_file} grows without bound", f"{LOGROTATE_PATH}: missing")
    if log_file not in content:
        return failed(f"{LOGROTATE_PATH} does not rotate {log_file}", f"{LOGROTATE_PATH}: present")
    return passed(f"{LOGROTATE_PATH} rotates {log_file}")
