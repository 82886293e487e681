"""DR-METRICS-002: the metrics exporter answers on the host, with values computed now (pure).

The probe fetched ``metrics.listen`` on the host under test (loopback for a wildcard address);
here the answer is judged: HTTP 200, ``<prefix>metrics_collected_timestamp_seconds`` close to
the host's clock (the exporter computes at each scrape: an old value means a stale cache or a
wrong clock), every source readable (``collection_error``), and the same backups the directory
holds (an exporter that sees none while verified archives exist reads another directory).
Whether the backup itself is within the RPO is DR-BKP-004's verdict, not this one's.
"""

from __future__ import annotations

import re

from dr_lib.checks.endpoints import exporter_url
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.checks.verdicts_files import age

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


def exporter_fresh(facts: HostFacts) -> Finding:
    config = facts.layout.config
    mode, url, prefix = config.checks.metrics, exporter_url(config.metrics.listen), config.metrics.prefix
    if mode == "off":
        return not_applicable("checks.metrics is off in the host's configuration")
    answer = facts.files.scrape or {}
    if answer.get("status") is None:
        why = answer.get("error") or "not probed"
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
