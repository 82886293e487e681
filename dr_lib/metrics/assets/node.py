"""What ``k3s-dr install`` puts where a node's Prometheus and Grafana read it (pure): the rendered rules
in ``metrics.prometheus_rules_dir``, the dashboard in ``metrics.grafana_dashboards_dir``; nothing when
neither is set (the default). Only the dashboard needs Grafana's SDK."""

from __future__ import annotations

import posixpath

from dr_lib.config import Config
from dr_lib.metrics.assets.dashboard import dashboard_json
from dr_lib.metrics.assets.options import AssetOptions
from dr_lib.metrics.assets.render import rules_yaml

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
    return tuple(files)
