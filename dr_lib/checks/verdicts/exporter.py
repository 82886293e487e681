"""The metrics exporter on the host (pure): DR-METRICS-003, the service ``k3s-dr install`` runs it as
is enabled and running; DR-METRICS-002, what it answers.

The probe fetched ``metrics.listen`` on the host under test (loopback for a wildcard address);
here the answer is judged: HTTP 200, ``<prefix>metrics_collected_timestamp_seconds`` close to
the host's clock (the exporter computes at each scrape: an old value means a stale cache or a
wrong clock), ``<prefix>build_info`` of the installed version (an exporter started before an
upgrade serves the old metric names, which the rendered rules and dashboard no longer read),
every source readable (``collection_error``), and the same backups the directory holds (an
exporter that sees none while verified archives exist reads another directory).
Whether the backup itself is within the RPO is DR-BKP-004's verdict, not this one's.

With ``units.exporter: true`` a service that is not running is DR-METRICS-003's failure alone
(DR-METRICS-002 is then n/a), and a running one must answer; with ``false`` the exporter is the
operator's own, and ``checks.metrics`` says whether one must answer.
"""

from __future__ import annotations

import re

from dr_lib import __version__
from dr_lib.checks.endpoints import exporter_url
from dr_lib.checks.hostfacts import EXPORTER_UNIT, HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.checks.units import UnitFacts
from dr_lib.checks.verdicts.files import age

MAX_SKEW_SECONDS = 120.0


_ANY_LABELS = r"(?:\{[^}]*\})?"


def _sample(body: str, name: str, labels: str = "") -> float | None:
    pattern = "^" + re.escape(name) + (re.escape(labels) if labels else _ANY_LABELS) + r"\s+(\S+)"
    match = re.search(pattern, body, re.MULTILINE)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def _served_version(body: str, prefix: str) -> str:
    match = re.search("^" + re.escape(f"{prefix}build_info") + r'\{[^}]*version="([^"]*)"', body, re.MULTILINE)
    return match.group(1) if match else ""


def _service_stopped(facts: HostFacts) -> str:
    """Why the exporter's service does not run, when ``units.exporter`` wants it; empty when it runs."""
    if not facts.layout.config.units.exporter:
        return ""
    unit = facts.unit(EXPORTER_UNIT)
    if unit is None or unit.load_state in ("", "not-found"):
        return f"{EXPORTER_UNIT} is not installed"
    if unit.active_state != "active":
        return f"{EXPORTER_UNIT} is {unit.active_state} ({unit.sub_state})"
    return ""


def exporter_fresh(facts: HostFacts) -> Finding:
    config = facts.layout.config
    mode, url, prefix = config.checks.metrics, exporter_url(config.metrics.listen), config.metrics.prefix
    if mode == "off":
        return not_applicable("checks.metrics is off in the host's configuration")
    stopped = _service_stopped(facts)
    if stopped:
        return not_applicable(f"{stopped}: see DR-METRICS-003")
    answer = facts.files.scrape or {}
    if answer.get("status") is None:
        why = answer.get("error") or "not probed"
        if config.units.exporter:
            return failed(f"{EXPORTER_UNIT} is running but nothing answers at {url} ({why}): it reads metrics.listen "
                          "only when it starts", f"GET {url}: {why}")
        if mode == "auto":
            return not_applicable(f"no exporter answers at {url} ({why}): `k3s-dr exporter` is not run on this "
                                  "host (set checks.metrics: required to insist)")
        return failed(f"the exporter does not answer at {url}: {why}", f"GET {url}: {why}")
    if answer["status"] != 200:
        return failed(f"{url} answered HTTP {answer['status']}", f"GET {url}: HTTP {answer['status']}")
    body = str(answer.get("body") or "")
    collected = _sample(body, f"{prefix}metrics_collected_timestamp_seconds")
    if collected is None:
        return failed(f"{url} answers without {prefix}metrics_collected_timestamp_seconds: not k3s-dr's exporter, "
                      "or another metrics.prefix", f"GET {url}: {len(body.splitlines())} line(s)")
    version = _served_version(body, prefix)
    if version != __version__:
        return failed(f"the exporter at {url} runs k3s-dr {version or 'older than 0.1'} while {__version__} is "
                      f"installed: it serves the old metric names; `systemctl restart {EXPORTER_UNIT}`",
                      f"GET {url}: {prefix}build_info version={version or '(none)'}")
    skew = abs(facts.files.clock.now - collected)
    evidence = f"GET {url}: values computed {age(skew)} from the host's clock"
    if skew > MAX_SKEW_SECONDS:
        return failed(f"the exporter's values are {age(skew)} off the host's clock: stale or a wrong clock", evidence)
    broken = [source for source in ("state", "backup_dir", "systemd")
              if _sample(body, f"{prefix}collection_error", f'{{source="{source}"}}') == 1]
    if broken:
        return failed(f"the exporter cannot read its {', '.join(broken)}", f"{evidence}; collection_error=1 for "
                      + ", ".join(broken))
    verified = sum(1 for archive in facts.files.archives if archive.verified)
    last = _sample(body, f"{prefix}backup_last_success_timestamp_seconds")
    if verified and not last:
        return failed(f"the exporter sees no good backup while {facts.layout.backup_dir} holds {verified} verified "
                      "archive(s): it reads another directory or configuration", evidence)
    shown = f"; it says the last good backup is {age(collected - last)} old" if last else "; no backup yet"
    return passed(evidence + shown)


def _unit_state(unit: UnitFacts) -> str:
    return (f"{unit.name}: load={unit.load_state or '?'} file={unit.unit_file_state or '?'} "
            f"active={unit.active_state}/{unit.sub_state}")


def exporter_service(facts: HostFacts) -> Finding:
    """``units.exporter: true``: the exporter runs as its unit, now and after the next boot."""
    config = facts.layout.config
    if config.checks.metrics == "off":
        return not_applicable("checks.metrics is off in the host's configuration")
    if not config.units.exporter:
        return not_applicable(f"units.exporter is false: {EXPORTER_UNIT} is not wanted here (DR-METRICS-002 "
                              "judges any exporter at metrics.listen)")
    unit = facts.unit(EXPORTER_UNIT)
    if unit is None or (not unit.loaded and not unit.masked):
        return failed(f"{EXPORTER_UNIT} is not installed: nothing serves the metrics",
                      _unit_state(unit) if unit else EXPORTER_UNIT)
    evidence = _unit_state(unit)
    if unit.masked:
        return failed(f"{EXPORTER_UNIT} is masked: it cannot start again, not even at boot", evidence)
    if unit.unit_file_state != "enabled":
        return failed(f"{EXPORTER_UNIT} is {unit.unit_file_state}: it does not start at boot", evidence)
    if unit.active_state != "active":
        broken = [p for p in unit.exec_paths if not facts.files.stat(p).executable]
        if broken:  # it cannot run: the unit's program is DR-UNIT-002's finding
            return not_applicable(f"{evidence}; it runs {', '.join(broken)}, which cannot be executed: see "
                                  "DR-UNIT-002")
        return failed(f"{EXPORTER_UNIT} is {unit.active_state} ({unit.sub_state}): nothing serves the metrics",
                      evidence)
    return passed(evidence)
