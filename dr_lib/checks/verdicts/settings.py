"""DR-CONF-001 and DR-WAIVER-001: k3s-dr's own settings on the host, its configuration file and its
waivers, are valid (pure)."""

from __future__ import annotations

from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, failed, passed
from dr_lib.checks.waivers import waiver_finding


def config_valid(facts: HostFacts) -> Finding:
    path = facts.layout.config_path
    if facts.config_problem:
        return failed(facts.config_problem, f"{path}: invalid")
    if not facts.config_present:
        return passed(f"{path} absent: the defaults apply (the seed's layout)")
    return passed(f"{path}: valid")


def waivers_valid(facts: HostFacts) -> Finding:
    return waiver_finding(facts.waivers, facts.files.host_today)
