"""DR-METRICS-001: the backup metrics node_exporter serves from its textfile are fresh (pure)."""

from __future__ import annotations

import re

from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.checks.verdicts.files import age


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
