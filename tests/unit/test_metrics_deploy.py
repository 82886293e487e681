"""deploy/: the alert rules (promtool's own unit tests) and the Grafana dashboard, checked against
the metrics the exporter really emits."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.metrics.catalog import names
from dr_lib.metrics.collect import render
from tests.unit._metrics_inputs import full_inputs

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dr-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package: prometheus)")

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels, durations left out)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    return {name for name, call in _IDENT.findall(text) if not call and name.lower() not in KEYWORDS}


def emitted_names() -> set[str]:
    """What the exporter emits on a host with every result recorded (parsed, as Prometheus stores it)."""
    text = render("k3s_dr_", full_inputs())
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def dashboard_panels():
    def walk(panels):
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


def dashboard_expressions() -> list[tuple[str, str]]:
    found = [(p["title"], t["expr"]) for p in dashboard_panels() for t in p.get("targets", [])]
    for variable in json.loads(DASHBOARD.read_text())["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query["query"])
            assert match, f"variable {variable['name']}: unexpected query {query['query']}"
            found.append((f"variable {variable['name']}", match.group(1)))
    return found


def alert_rules():
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_metric_name_extraction():
    assert metric_names('time() - k3s_dr_a{instance=~"$instance"} > 2 * 3600') == {"k3s_dr_a"}
    assert metric_names("sum by (kind) (increase(k3s_dr_b_total{x=\"y\"}[1d])) or on (instance) up") == {
        "k3s_dr_b_total", "up"}
    assert metric_names("k3s_dr_c > bool k3s_dr_d") == {"k3s_dr_c", "k3s_dr_d"}


def test_every_dashboard_expression_names_only_metrics_the_exporter_emits():
    emitted = emitted_names()
    expressions = dashboard_expressions()
    assert len(expressions) >= 25
    for title, expr in expressions:
        named = metric_names(expr)
        assert named, f"{title}: no metric in {expr!r}"
        assert named <= emitted, f"{title}: {sorted(named - emitted)} are not emitted by k3s-dr exporter"


def test_the_dashboard_covers_every_metric_and_is_the_seeds():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Disaster Recovery & Backups"
    shown = set().union(*(metric_names(expr) for _title, expr in dashboard_expressions()))
    assert emitted_names() - shown == set()
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels():
        assert panel["type"] == "row" or panel.get("targets"), panel["title"]


def test_every_alert_names_only_emitted_metrics_and_has_firing_and_silent_tests():
    emitted = emitted_names()
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {"K3sDrBackupTooOld", "K3sDrBackupFailed", "K3sDrNoVerifiedBackup",
                                          "K3sDrAutoRestoreCannotFire", "K3sDrDrillFailed", "K3sDrDrillTooOld",
                                          "K3sDrRtoOverTarget"}
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in rules:
        assert metric_names(rule["expr"]) <= emitted, rule["alert"]
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']}: no test where it fires"
        silent = [case for case in mine if not case["exp_alerts"]]
        others = [case for case in mine if case["exp_alerts"]]
        # silent: an explicit empty expectation, or a firing case whose other series stayed out of it
        assert silent or any(len(c["exp_alerts"]) == 1 for c in others), f"{rule['alert']}: no silent case"


@needs_promtool
def test_promtool_rule_unit_tests_pass():
    done = subprocess.run([PROMTOOL, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_promtool_accepts_the_rules_and_every_dashboard_expression(tmp_path):
    checked = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = [{"record": f"k3s_dr:panel_{n}", "expr": expr.replace("$instance", ".*")}
             for n, (_title, expr) in enumerate(dashboard_expressions())]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    parsed = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr


@needs_promtool
def test_promtool_rule_tests_can_fail(tmp_path):
    """The harness is not a rubber stamp: a wrong expectation makes promtool fail."""
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    tests["rule_files"] = [str(ALERTS)]
    tests["tests"][1]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    path = tmp_path / "wrong.yml"
    path.write_text(yaml.safe_dump(tests))
    done = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "K3sDrBackupTooOld" in done.stdout + done.stderr


def test_the_metrics_doc_lists_every_metric():
    doc = (ROOT / "docs" / "metrics.md").read_text()
    missing = [name for name in names("k3s_dr_") if f"`{name}`" not in doc]
    assert not missing, f"docs/metrics.md does not list {missing}"
