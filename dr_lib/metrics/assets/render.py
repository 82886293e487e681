"""``k3s-dr metrics render``: the dashboard, the alert rules and their promtool tests for the
configured prefix, written atomically into one directory (the tests find ``alerts.yml`` beside them).

The texts are pure functions of the options; :func:`write_assets` is the only I/O. ``deploy/`` holds
the default rendering (a unit test keeps it identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dr_lib.metrics.assets.alert_tests import RULE_FILE, tests_document
from dr_lib.metrics.assets.alerts import rules_document
from dr_lib.metrics.assets.dashboard import dashboard_json
from dr_lib.metrics.assets.options import SHIPPED, AlertTuning, AssetOptions
from dr_lib.metrics.files import atomic_write_text

DASHBOARD_FILE = "dr-dashboard.json"
TESTS_FILE = "alerts_test.yml"

_RULES_HEADER = """\
# Managed by k3s-dr: rendered by `k3s-dr metrics render` for the prefix {prefix} and the scrape job
# {job!r} (`k3s-dr install` writes it to metrics.prometheus_rules_dir when set). Do not edit: render
# again. Load it in Prometheus (rule_files:) next to a scrape of `k3s-dr exporter` (job {job!r}) or of
# node_exporter's textfile collector. Every rule is unit-tested with promtool ({tests}), including when
# it must stay silent, and links to its section of the runbook (runbook_url).
"""
_TESTS_HEADER = """\
# promtool unit tests of {rules}, rendered by `k3s-dr metrics render` for the prefix {prefix}:
# `promtool test rules {tests}`. For each alert a case where it fires and one where it stays silent.
"""


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def rules_yaml(options: AssetOptions, tuning: AlertTuning = SHIPPED) -> str:
    header = _RULES_HEADER.format(prefix=options.prefix, job=options.job, tests=TESTS_FILE)
    return header + _yaml(rules_document(options, tuning))


def tests_yaml(options: AssetOptions) -> str:
    header = _TESTS_HEADER.format(rules=RULE_FILE, prefix=options.prefix, tests=TESTS_FILE)
    return header + _yaml(tests_document(options))


@dataclass(frozen=True)
class RenderedAssets:
    dashboard: Path
    alerts: Path
    alert_tests: Path

    def to_json(self) -> dict[str, str]:
        return {"dashboard": str(self.dashboard), "alerts": str(self.alerts), "alert_tests": str(self.alert_tests)}


def asset_texts(options: AssetOptions) -> dict[str, str]:
    """File name → content of every asset, for the default thresholds."""
    return {DASHBOARD_FILE: dashboard_json(options), RULE_FILE: rules_yaml(options), TESTS_FILE: tests_yaml(options)}


def write_assets(options: AssetOptions, directory: Path) -> RenderedAssets:
    """Render everything first (a missing SDK fails before any file is written), then write each atomically."""
    texts = asset_texts(options)
    for name, text in texts.items():
        atomic_write_text(directory / name, text, make_parents=True)
    return RenderedAssets(directory / DASHBOARD_FILE, directory / RULE_FILE, directory / TESTS_FILE)
