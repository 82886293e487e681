"""`k3s-dr install` writes the rendered monitoring assets where metrics.prometheus_rules_dir and
metrics.grafana_dashboards_dir say (off by default), into a temporary root with a *fake* systemctl."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dr_lib.config import config_from_text
from dr_lib.errors import EnvironmentProblem
from dr_lib.host.fsops import Root
from dr_lib.host.install import install
from dr_lib.host.steps import Kind
from dr_lib.jobs.host import monitoring_files
from dr_lib.metrics.assets import AssetOptions, rules_yaml
from dr_lib.metrics.assets.dashboard import dashboard_json
from dr_lib.metrics.assets.runbook import INSTALLED_RUNBOOK, shipped_runbook

EXE, CFG = "/usr/local/bin/k3s-dr", "/etc/k3s-dr/config.yaml"
RULES = "/etc/prometheus/rules.d/k3s-dr-alerts.yml"
DASHBOARD = "/var/lib/grafana/dashboards/k3s-dr/k3s-dr-dashboard.json"
WITH_ASSETS = ("metrics:\n  prefix: insightlearn_dr_\n  prometheus_rules_dir: /etc/prometheus/rules.d\n"
               "  grafana_dashboards_dir: /var/lib/grafana/dashboards/k3s-dr\n")


def fake_systemctl(*args: str) -> str:
    """A fake: every unit unknown, every other call accepted (the real systemd runs on the reference host)."""
    if args[0] == "show":
        return "\n".join(f"Id={name}\nLoadState=not-found\nUnitFileState=\nActiveState=inactive\n"
                         for name in args[3:])
    return ""


def test_off_by_default():
    assert monitoring_files(config_from_text("", "test", env={})) == ()


def test_install_writes_the_rules_and_the_dashboard_for_the_prefix_then_changes_nothing(tmp_path: Path):
    config = config_from_text(WITH_ASSETS, "test", env={})
    first = install(config, EXE, CFG, dry_run=False, root=Root(tmp_path), run=fake_systemctl,
                    extra=monitoring_files(config))
    assert {RULES, DASHBOARD} <= {step.target for step in first.steps if step.kind is Kind.WRITE}
    options = AssetOptions(prefix="insightlearn_dr_")
    assert (tmp_path / RULES.lstrip("/")).read_text() == rules_yaml(options)
    assert (tmp_path / DASHBOARD.lstrip("/")).read_text() == dashboard_json(options)
    assert (tmp_path / RULES.lstrip("/")).stat().st_mode & 0o777 == 0o644  # Prometheus and Grafana run as others
    again = install(config, EXE, CFG, dry_run=False, root=Root(tmp_path), run=fake_systemctl,
                    extra=monitoring_files(config))
    assert not [step for step in again.steps if step.target in (RULES, DASHBOARD)]


def test_a_changed_rendering_is_rewritten_and_a_foreign_file_kept_aside(tmp_path: Path):
    rules = tmp_path / RULES.lstrip("/")
    rules.parent.mkdir(parents=True)
    rules.write_text("groups: []  # the operator's own\n")
    config = config_from_text(WITH_ASSETS, "test", env={})
    change = install(config, EXE, CFG, dry_run=False, root=Root(tmp_path), run=fake_systemctl,
                     extra=monitoring_files(config))
    assert [step.kind for step in change.steps if step.target == RULES] == [Kind.MOVE_ASIDE, Kind.WRITE]
    assert (tmp_path / (RULES.lstrip("/") + ".pre-k3s-dr")).read_text() == "groups: []  # the operator's own\n"
    assert "insightlearn_dr_" in rules.read_text()


def test_the_rules_need_no_sdk_but_the_dashboard_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "grafana_foundation_sdk", None)  # a fake: as if the extra were absent
    rules_only = config_from_text("metrics:\n  prometheus_rules_dir: /etc/prometheus/rules.d\n", "test", env={})
    assert [managed.path for managed in monitoring_files(rules_only)] == [RULES, INSTALLED_RUNBOOK]
    with pytest.raises(EnvironmentProblem, match=r"k3s-dr\[monitoring\]"):
        monitoring_files(config_from_text(WITH_ASSETS, "test", env={}))


@pytest.mark.parametrize("value", ["relative/dir", "~/rules", 7])
def test_the_directories_must_be_absolute(value):
    from dr_lib.errors import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError, match="prometheus_rules_dir"):
        config_from_text(f"metrics:\n  prometheus_rules_dir: {value}\n", "test", env={})


def test_the_runbook_the_alerts_link_to_is_installed_beside_them(tmp_path: Path):
    config = config_from_text(WITH_ASSETS, "test", env={})
    install(config, EXE, CFG, dry_run=False, root=Root(tmp_path), run=fake_systemctl, extra=monitoring_files(config))
    installed = (tmp_path / INSTALLED_RUNBOOK.lstrip("/")).read_text()
    assert installed == (Path(__file__).parents[2] / "docs" / "runbook.md").read_text()
    assert "## Alerts" in installed
    assert config.metrics.runbook_url == f"file://{INSTALLED_RUNBOOK}"


def test_a_team_runbook_url_installs_no_copy():
    config = config_from_text("metrics:\n  prometheus_rules_dir: /etc/prometheus/rules.d\n"
                              "  runbook_url: https://wiki.example.org/dr/runbook.md\n", "test", env={})
    assert [managed.path for managed in monitoring_files(config)] == [RULES]


def test_the_shipped_runbook_is_the_wheels_copy_else_the_checkouts_else_an_error(tmp_path: Path):
    data, tree = tmp_path / "venv", tmp_path / "checkout"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "runbook.md").write_text("checkout copy\n")
    assert shipped_runbook(data, tree) == "checkout copy\n"
    (data / "share" / "doc" / "k3s-dr").mkdir(parents=True)
    (data / "share" / "doc" / "k3s-dr" / "runbook.md").write_text("wheel copy\n")
    assert shipped_runbook(data, tree) == "wheel copy\n"
    with pytest.raises(EnvironmentProblem, match="runbook: not found"):
        shipped_runbook(tmp_path / "none", tmp_path / "none")


@pytest.mark.parametrize("value", ["ftp://x/runbook.md", "file://relative", "javascript:alert(1)", "https://a b"])
def test_runbook_urls_are_http_or_absolute_file_urls(value):
    from dr_lib.errors import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError, match="runbook_url"):
        config_from_text(f"metrics:\n  runbook_url: '{value}'\n", "test", env={})
