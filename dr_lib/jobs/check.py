"""The check job (``k3s-dr check``): judge hosts against the conformance controls, leave the reports.

pytest and testinfra load only when checks run: every other command starts without them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dr_lib.config import CONFIG_ENV, DEFAULT_CONFIG_PATH, load_config
from dr_lib.errors import ChecksFailed, DRError
from dr_lib.jobs.report import Reporter
from dr_lib.signing.policy import signing_key_path

if TYPE_CHECKING:
    from dr_lib.hostcheck.runner import CheckOutcome


@dataclass(frozen=True)
class HostCheckOptions:
    hosts: str | None = None  # testinfra specs, comma-separated; default: this machine
    workers: int | None = None  # hosts judged in parallel (pytest-xdist)
    reports: str = "reports"  # checks-<UTC time>/ is created under it
    dr_config: str | None = None  # k3s-dr's config on the hosts; default: --config, $K3S_DR_CONFIG, the default
    sudo: bool = False


@dataclass(frozen=True)
class Checked:
    outcome: CheckOutcome

    def to_dict(self) -> dict[str, Any]:
        return self.outcome.to_json()

    @property
    def exit_error(self) -> DRError | None:
        outcome = self.outcome
        if not outcome.failed:
            return None
        return ChecksFailed(f"{outcome.failed} of {len(outcome.results)} control results failed "
                            f"(report: {outcome.report_html})")


def report_signing_key(chosen_config: str | None) -> Path | None:
    """This machine's trust.signing_key, which seals the report; none when its config cannot be read (the
    checks judge that file: DR-CONF-001; the report is then sealed, unsigned)."""
    try:
        return signing_key_path(load_config(chosen_config).trust)
    except DRError:
        return None


def check_hosts(options: HostCheckOptions, reporter: Reporter, chosen_config: str | None) -> Checked:
    from dr_lib.hostcheck.hosts import parse_hosts  # noqa: PLC0415 - see the module's docstring
    from dr_lib.hostcheck.runner import CheckOptions, run_checks  # noqa: PLC0415

    config_path = options.dr_config or chosen_config or os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)
    run = CheckOptions(hosts=parse_hosts(options.hosts) if options.hosts is not None else (),
                       reports_root=Path(options.reports), config_path=config_path, sudo=options.sudo,
                       workers=options.workers, signing_key=report_signing_key(chosen_config))
    return Checked(run_checks(run, reporter.note))
