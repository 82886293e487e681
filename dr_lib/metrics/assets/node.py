"""What ``k3s-dr install`` puts where a node's Prometheus and Grafana read it: the rendered rules
in ``metrics.prometheus_rules_dir``, the dashboard in ``metrics.grafana_dashboards_dir``, and the
runbook they link to when ``metrics.runbook_url`` is left at the installed copy; nothing when
neither directory is set (the default). Only the dashboard needs Grafana's SDK."""

from __future__ import annotations

import posixpath

from dr_lib.config import Config, MetricsConfig
from dr_lib.metrics.assets.dashboard import dashboard_json
from dr_lib.metrics.assets.options import AssetOptions
from dr_lib.metrics.assets.render import rules_yaml
from dr_lib.metrics.assets.runbook import INSTALLED_RUNBOOK, shipped_runbook

RULES_FILE = "k3s-dr-alerts.yml"
DASHBOARD_FILE = "k3s-dr-dashboard.json"


def node_files(config: Config) -> tuple[tuple[str, str], ...]:
    """(absolute path, content) of each asset the configuration asks install to write."""
    options = AssetOptions.from_config(config)
    files = []
    if config.metrics.prometheus_rules_dir:
        files.append((posixpath.join(config.metrics.prometheus_rules_dir, RULES_FILE), rules_yaml(options)))
    if config.metrics.grafana_dashboards_dir:
        files.append((posixpath.join(config.metrics.grafana_dashboards_dir, DASHBOARD_FILE), dashboard_json(options)))
    if files and config.metrics.runbook_url == MetricsConfig.runbook_url:
        files.append((INSTALLED_RUNBOOK, shipped_runbook()))
    return tuple(files)
