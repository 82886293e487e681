"""What the monitoring assets are rendered for: the metric prefix, the scrape job, where the runbook
and the drill reports are (from ``metrics.*``), and the alert thresholds (fixed, but short in tests)."""

from __future__ import annotations

from dataclasses import dataclass

from dr_lib.config import Config, MetricsConfig

DAY = 86400
HOUR = 3600


@dataclass(frozen=True)
class AssetOptions:
    prefix: str = "k3s_dr_"
    job: str = "k3s-dr"  # the scrape job of `k3s-dr exporter` in Prometheus: the exporter-down rule watches it
    runbook_url: str = MetricsConfig.runbook_url
    reports_url: str = MetricsConfig.reports_url

    @classmethod
    def from_config(cls, config: Config) -> AssetOptions:
        metrics = config.metrics
        return cls(prefix=metrics.prefix, job=metrics.job, runbook_url=metrics.runbook_url,
                   reports_url=metrics.reports_url)

    def runbook(self, anchor: str) -> str:
        return f"{self.runbook_url}#{anchor}"


@dataclass(frozen=True)
class AlertTuning:
    """Thresholds and holds of the alert rules. The defaults are what ships (and what the promtool tests
    check); a test against a real Prometheus renders shorter ones so that its rules fire in seconds."""

    backup_max_age_seconds: int = 2 * HOUR  # RPO 1 h (hourly backups): one missed backup is tolerated
    drill_max_age_seconds: int = 35 * DAY  # monthly drills, with a few days of slack
    offsite_max_age_seconds: int = 3 * HOUR  # pushes follow the hourly backups
    hold: str | None = None  # every rule's `for:`; None: each rule's own

    def hold_for(self, default: str) -> str:
        return default if self.hold is None else self.hold


SHIPPED = AlertTuning()


def human_duration(seconds: int) -> str:
    for unit, word in ((DAY, "days"), (HOUR, "hours")):
        if seconds >= unit and seconds % unit == 0:
            return f"{seconds // unit} {word}"
    return f"{seconds} seconds"


def seconds_expr(seconds: int) -> str:
    """A threshold as a reader of the rule wants it: ``2 * 3600`` rather than ``7200``."""
    for unit in (DAY, HOUR):
        if seconds >= unit and seconds % unit == 0:
            return f"{seconds // unit} * {unit}"
    return str(seconds)
