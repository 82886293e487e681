"""The monitoring assets (dr_lib.metrics.assets): deploy/ is their default rendering; for either prefix
every query and rule names only metrics the exporter serves; promtool's own unit tests pass; the
dashboard is what Grafana's SDK types describe."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.metrics.assets import AssetOptions, asset_texts
from dr_lib.metrics.assets.alerts import alert_rules
from dr_lib.metrics.assets.dashboard import TITLE, build_dashboard, validate_with_sdk
from dr_lib.metrics.assets.panels import dashboard_rows
from dr_lib.metrics.assets.promql import metric_names
from dr_lib.metrics.assets.render import DASHBOARD_FILE, TESTS_FILE, write_assets
from dr_lib.metrics.catalog import names
from dr_lib.metrics.collect import render
from tests.unit._metrics_inputs import full_inputs

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = {DASHBOARD_FILE: ROOT / "deploy" / "grafana" / "dr-dashboard.json",
          "alerts.yml": ROOT / "deploy" / "prometheus" / "alerts.yml",
          TESTS_FILE: ROOT / "deploy" / "prometheus" / "alerts_test.yml"}
PROMTOOL = shutil.which("promtool") or "promtool"  # Debian's prometheus package; scripts/setup installs it
PREFIXES = ("k3s_dr_", "insightlearn_dr_")
PROMETHEUS_OWN = {"up"}  # series Prometheus itself writes for each scrape target
# Served, yet not on the dashboard: the reason per name.
NOT_SHOWN = {"next_backup_seconds": "relative: frozen in a textfile; the panel uses next_backup_timestamp_seconds"}


def served(prefix: str) -> set[str]:
    """What the exporter serves on a host with every result recorded (parsed, as Prometheus stores it)."""
    text = render(prefix, full_inputs())
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def panels(document: dict) -> list[dict]:
    return [panel for panel in document["panels"] if panel["type"] != "row"]


def dashboard_expressions(document: dict) -> list[tuple[str, str]]:
    found = [(p["title"], t["expr"]) for p in panels(document) for t in p["targets"]]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["query"])
            assert match, f"variable {variable['name']}: unexpected query {variable['query']}"
            found.append((f"variable {variable['name']}", match.group(1)))
    return found


def test_deploy_holds_the_default_rendering():
    for name, text in asset_texts(AssetOptions()).items():
        assert DEPLOY[name].read_text() == text, f"{DEPLOY[name]} differs: run `k3s-dr metrics render` (see docs)"


@pytest.mark.parametrize(("expr", "expected"), [
    ('time() - (k3s_dr_a{instance=~"$instance"} > 0)', {"k3s_dr_a"}),
    ('sum by (kind) (increase(k3s_dr_b_total{x="y"}[1d])) or on (instance) up', {"k3s_dr_b_total", "up"}),
    ("k3s_dr_c > bool k3s_dr_d", {"k3s_dr_c", "k3s_dr_d"}),
    ('up{job="k3s-dr"} == 1 unless on (instance) x_y', {"up", "x_y"}),
    ("absent(k3s_dr_e) and time() > 2 * 3600", {"k3s_dr_e"}),
    ('max_over_time(k3s_dr_f[5m] offset 1h) > 3', {"k3s_dr_f"}),
])
def test_metric_name_extraction(expr, expected):
    assert metric_names(expr) == expected


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_dashboard_query_names_only_served_metrics_and_shows_every_one(prefix):
    document = build_dashboard(AssetOptions(prefix=prefix))
    available = served(prefix)
    expressions = dashboard_expressions(document)
    assert len(expressions) >= 40
    shown: set[str] = set()
    for title, expr in expressions:
        named = metric_names(expr)
        assert named, f"{title}: no metric in {expr!r}"
        assert named <= available | PROMETHEUS_OWN, f"{title}: {sorted(named - available)} are not served"
        shown |= named
    assert available - shown == {prefix + name for name in NOT_SHOWN}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_alert_names_only_served_metrics(prefix):
    available = served(prefix) | PROMETHEUS_OWN
    for rule in alert_rules(AssetOptions(prefix=prefix)):
        named = metric_names(rule.expr)
        assert named and named <= available, f"{rule.name}: {sorted(named - available)} are not served"


def test_a_misnamed_metric_is_caught():
    """The check is not a rubber stamp: the old names and another prefix are refused."""
    available = served("k3s_dr_") | PROMETHEUS_OWN
    for expr in ("k3s_dr_backup_verified_count == 0", "insightlearn_dr_backup_count > 0"):
        assert not metric_names(expr) <= available


def test_every_never_set_timestamp_is_guarded():
    document = build_dashboard(AssetOptions())
    for title, expr in [(p["title"], t["expr"]) for p in panels(document) for t in p["targets"]]:
        for name in metric_names(expr):
            if name.endswith("_timestamp_seconds"):
                guarded = re.search(re.escape(name) + r'\{[^}]*\} > 0\)', expr)
                assert guarded, f"{title}: {expr!r} shows ~56 years for a time never set"


def test_the_dashboard_title_variables_and_links():
    options = AssetOptions(runbook_url="https://runbooks.example.org/dr.md", reports_url="https://reports.example.org/")
    document = build_dashboard(options)
    assert document["title"] == TITLE == "Disaster Recovery & Backups"
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {link["url"] for link in document["links"]} == {options.runbook_url, options.reports_url}
    for panel in panels(document):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    by_default = build_dashboard(AssetOptions())  # no reports URL configured: no dead link
    assert [link["url"] for link in by_default["links"]] == ["file:///usr/share/doc/k3s-dr/runbook.md"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_grafanas_sdk_types_every_panel_and_query_and_keeps_every_field(prefix):
    """No Grafana server can be installed here (no package): the SDK's typed models are the schema."""
    document = build_dashboard(AssetOptions(prefix=prefix))
    again, problems = validate_with_sdk(document)
    assert problems == []
    assert again == document


def test_the_sdk_validation_can_fail():
    document = build_dashboard(AssetOptions())
    document["panels"][1]["type"] = "no-such-panel"
    document["panels"][2]["datasource"]["type"] = "no-such-datasource"  # its query: not a Prometheus one
    document["panels"][3]["not_a_grafana_field"] = 1
    again, problems = validate_with_sdk(document)
    assert len(problems) == 2, problems
    assert again != document


def test_every_rule_links_to_its_own_runbook_section():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    alerts = runbook[runbook.index("\n## Alerts\n"):]
    sections = set(re.findall(r"^### (\S+)$", alerts, re.MULTILINE))
    document = yaml.safe_load(DEPLOY["alerts.yml"].read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} == sections
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url == f"{AssetOptions().runbook_url}#{rule['alert'].lower()}", rule["alert"]


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_is_silent():
    cases = [case for test in yaml.safe_load(DEPLOY[TESTS_FILE].read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in alert_rules(AssetOptions()):
        mine = [case for case in cases if case["alertname"] == rule.name]
        assert any(case["exp_alerts"] for case in mine), f"{rule.name}: no test where it fires"
        silent = [case for case in mine if not case["exp_alerts"]]
        others = [case for case in mine if case["exp_alerts"]]
        # silent: an explicit empty expectation, or a firing case whose other series stayed out of it
        assert silent or any(len(c["exp_alerts"]) == 1 for c in others), f"{rule.name}: no silent case"


@pytest.mark.parametrize(("prefix", "job"), [("k3s_dr_", "k3s-dr"), ("insightlearn_dr_", "insightlearn-dr")])
def test_promtool_passes_the_rendered_rule_tests(tmp_path, prefix, job):
    written = write_assets(AssetOptions(prefix=prefix, job=job), tmp_path)
    assert prefix in written.alerts.read_text() and f'job="{job}"' in written.alerts.read_text()
    done = subprocess.run([PROMTOOL, "test", "rules", str(written.alert_tests)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_accepts_the_rules_and_every_dashboard_expression(tmp_path):
    checked = subprocess.run([PROMTOOL, "check", "rules", str(DEPLOY["alerts.yml"])], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    expressions = dashboard_expressions(json.loads(DEPLOY[DASHBOARD_FILE].read_text()))
    rules = [{"record": f"k3s_dr:panel_{n}", "expr": expr.replace("$instance", ".*")}
             for n, (_title, expr) in enumerate(expressions)]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    parsed = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr


def test_promtool_rule_tests_can_fail(tmp_path):
    """The harness is not a rubber stamp: a wrong expectation makes promtool fail."""
    tests = yaml.safe_load(DEPLOY[TESTS_FILE].read_text())
    tests["rule_files"] = [str(DEPLOY["alerts.yml"])]
    tests["tests"][1]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    path = tmp_path / "wrong.yml"
    path.write_text(yaml.safe_dump(tests))
    done = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "K3sDrBackupTooOld" in done.stdout + done.stderr


def test_panels_empty_by_design_say_until_when():
    for row in dashboard_rows("k3s_dr_", "k3s-dr"):
        for spec in row.panels:
            if spec.empty_until:
                doc = (ROOT / "docs" / "metrics.md").read_text()
                assert spec.title in doc, f"docs/metrics.md does not say when {spec.title!r} has data"


def test_the_metrics_doc_lists_every_metric_and_every_renamed_one():
    from dr_lib.metrics.catalog import RENAMED  # noqa: PLC0415

    doc = (ROOT / "docs" / "metrics.md").read_text()
    missing = [name for name in names("k3s_dr_") if f"`{name}`" not in doc]
    assert not missing, f"docs/metrics.md does not list {missing}"
    for old, new, _why in RENAMED:
        assert re.search(rf"`k3s_dr_{old}`.*`k3s_dr_{new}`", doc), old
