"""Verdicts on the configuration, the log, log rotation, metrics and waivers (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone

from dr_lib.checks.hostfacts import LOGROTATE_PATH, HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.checks.verdicts_files import age
from dr_lib.checks.waivers import waiver_finding

_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_TIMESTAMP_WITHIN = 40  # characters from the line start where a log line's time may appear
_SHOWN_LINES = 3


def config_valid(facts: HostFacts) -> Finding:
    path = facts.layout.config_path
    if facts.config_problem:
        return failed(facts.config_problem, f"{path}: invalid")
    if not facts.config_present:
        return passed(f"{path} absent: the defaults apply (the seed's layout)")
    return passed(f"{path}: valid")


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


def metrics_fresh(facts: HostFacts) -> Finding:
    mode = facts.layout.config.checks.metrics
    path = facts.layout.config.metrics.textfile
    if mode == "off":
        return not_applicable("checks.metrics is off in the host's configuration")
    content = facts.files.content(path)
    if content is None:
        if mode == "auto":
            return not_applicable(f"no metrics textfile at {path}: metrics are not enabled on this host "
                                  "(set checks.metrics: required to insist)")
        return failed(f"{path} is missing", f"{path}: missing")
    name = f"{facts.layout.config.metrics.prefix}backup_last_success_timestamp_seconds"
    match = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)", content, re.MULTILINE)
    if match is None:
        return failed(f"{path} has no {name}", f"{path}: {len(content.splitlines())} line(s)")
    try:
        stamp = float(match.group(1))
    except ValueError:
        return failed(f"{name} is not a number: {match.group(1)!r}", path)
    elapsed = facts.files.clock.now - stamp
    evidence = f"{name} = {stamp:.0f} ({age(elapsed)} ago); RPO {age(facts.layout.rpo_seconds)}"
    if elapsed > facts.layout.rpo_seconds:
        return failed(f"the metrics say the last success was {age(elapsed)} ago", evidence)
    return passed(evidence)


def waivers_valid(facts: HostFacts) -> Finding:
    return waiver_finding(facts.waivers, facts.files.host_today)
