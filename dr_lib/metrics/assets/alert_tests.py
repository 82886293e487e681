"""The promtool unit tests of the alert rules, rendered for a prefix and scrape job (pure).

The cases are data (``alert_tests.yml`` beside this module, a template: ``<p>`` the prefix,
``<job>`` the scrape job); each expected alert gets its rule's description and runbook_url, so a
reworded rule does not need its tests rewritten, while promtool still compares every annotation.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from dr_lib.metrics.assets.alerts import AlertRule, alert_rules
from dr_lib.metrics.assets.options import AssetOptions

TEMPLATE = "alert_tests.yml"
RULE_FILE = "alerts.yml"  # promtool resolves it beside the test file


def _substitute(value: Any, options: AssetOptions) -> Any:
    if isinstance(value, str):
        return value.replace("<p>", options.prefix).replace("<job>", options.job)
    if isinstance(value, list):
        return [_substitute(item, options) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, options) for key, item in value.items()}
    return value


def _complete(expected: dict[str, Any], rule: AlertRule, options: AssetOptions) -> dict[str, Any]:
    annotations = {"description": rule.description, "runbook_url": options.runbook(rule.anchor),
                   **expected.get("exp_annotations", {})}
    return {**expected, "exp_annotations": annotations}


def template_text() -> str:
    return resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")


def tests_document(options: AssetOptions) -> dict[str, Any]:
    """The promtool test file's content for the default thresholds (the rules ``render`` writes)."""
    rules = {rule.name: rule for rule in alert_rules(options)}
    cases = _substitute(yaml.safe_load(template_text())["tests"], options)
    for case in cases:
        for check in case.get("alert_rule_test", []):
            rule = rules[check["alertname"]]
            check["exp_alerts"] = [_complete(alert, rule, options) for alert in check["exp_alerts"]]
    return {"rule_files": [RULE_FILE], "evaluation_interval": "1m", "tests": cases}
