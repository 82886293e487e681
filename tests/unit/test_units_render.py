"""The units install writes, rendered from the configuration (pure)."""

from __future__ import annotations

import pytest
from _unit_files import directives

from dr_lib.checks.units import parse_conditions
from dr_lib.config import Config, config_from_text, load_config
from dr_lib.errors import ConfigError
from dr_lib.host.units import (
    EXPORTER_SANDBOX,
    MANAGED_MARKER,
    render_all,
    render_auto_restore,
    render_backup_service,
    render_backup_timer,
    render_config,
    render_exporter,
    render_logrotate,
)

EXE = "/opt/k3s dr/bin/k3s-dr"  # a space on purpose: it must be quoted
CFG = "/etc/k3s-dr/config.yaml"


def test_auto_restore_waits_for_the_snapshot_link_after_k3s() -> None:
    text = render_auto_restore(Config(), EXE, CFG)
    assert "After=k3s.service\nWants=k3s.service\n" in text
    paths, others = parse_conditions(text)
    assert [c.path for c in paths] == ["/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"] and not others
    assert "ExecStart='/opt/k3s dr/bin/k3s-dr' --config /etc/k3s-dr/config.yaml restore --auto\n" in text
    assert "WantedBy=multi-user.target" in text
    assert "TimeoutStartSec=900s" in text  # restore.wait_timeout 10m + 5m


def test_names_and_paths_come_from_the_config() -> None:
    config = config_from_text("backup: {dir: /srv/dr, snapshot_link: snap.tgz, interval: 15m}\n"
                              "units: {k3s: k3s-server.service, auto_restore: dr-restore.service}\n", "test")
    assert "ConditionPathExists=/srv/dr/snap.tgz" in render_auto_restore(config, EXE, CFG)
    assert "After=k3s-server.service" in render_backup_service(config, EXE, CFG)
    timer = render_backup_timer(config)
    assert "OnUnitActiveSec=900s" in timer and "OnBootSec=900s" in timer and "Unit=k3s-dr-backup.service" in timer
    assert {f.path for f in render_all(config, EXE, CFG)} >= {"/usr/local/lib/systemd/system/dr-restore.service"}


def test_every_managed_file_says_so_except_the_config_and_the_log() -> None:
    files = render_all(Config(), EXE, CFG)
    assert [f.keep_existing for f in files] == [True, False, False, False, False, False, False, True]
    for managed in files[1:-1]:
        assert managed.content.startswith(MANAGED_MARKER)
    assert MANAGED_MARKER not in files[0].content
    log = files[-1]  # created empty, never rewritten: the sandboxed backup unit can append but not create it
    assert (log.path, log.content, log.mode) == ("/var/log/k3s-dr.log", "", 0o640)


def test_written_config_reads_back_as_the_same_config() -> None:
    config = config_from_text("backup: {keep: 5}\nchecks: {expected_kinds: [namespaces, secrets]}\n", "test")
    again = config_from_text(render_config(config), "again")
    assert again == config


def test_logrotate_names_the_log_file() -> None:
    assert render_logrotate(Config()).splitlines()[2] == "/var/log/k3s-dr.log {"


def test_exporter_unit_runs_the_exporter_as_a_restarting_notify_service() -> None:
    text = render_exporter(Config(), EXE, CFG)
    assert text.startswith(MANAGED_MARKER)
    found = directives(text)
    assert found["ExecStart"] == ["'/opt/k3s dr/bin/k3s-dr' --config /etc/k3s-dr/config.yaml exporter"]
    assert found["Type"] == ["notify"]  # `k3s-dr exporter` sends READY=1 once it listens
    assert found["Restart"] == ["on-failure"] and found["RestartSec"] == ["5s"]
    assert found["StartLimitIntervalSec"] == ["0"]  # retried until its port is free, never given up
    assert found["WantedBy"] == ["multi-user.target"]
    assert "0.0.0.0:9101" in found["Description"][0]
    sections = [line for line in text.splitlines() if line.startswith("[")]
    assert sections == ["[Unit]", "[Service]", "[Install]"]


def test_exporter_sandbox_only_reads() -> None:
    found = directives(render_exporter(Config(), EXE, CFG))
    assert found["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in found  # it writes nothing
    assert found["NoNewPrivileges"] == ["yes"] and found["UMask"] == ["0077"]
    assert found["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE CAP_DAC_READ_SEARCH"]
    assert "AF_UNIX" in found["RestrictAddressFamilies"][0]  # systemctl show talks to systemd over it
    assert "User" not in found and "DynamicUser" not in found and "ProtectHome" not in found  # backups may be anywhere
    for line, why in EXPORTER_SANDBOX:
        assert "=" in line and len(why) > 10, line


def test_exporter_unit_only_when_wanted() -> None:
    wanted = {f.path for f in render_all(Config(), EXE, CFG)}
    assert "/usr/local/lib/systemd/system/k3s-dr-exporter.service" in wanted
    config = config_from_text("units: {exporter: false}\nmetrics: {listen: '127.0.0.1:9200'}\n", "test")
    assert "/usr/local/lib/systemd/system/k3s-dr-exporter.service" not in {f.path for f in render_all(config, EXE, CFG)}
    assert "on 127.0.0.1:9200" in render_exporter(config, EXE, CFG)  # a new address rewrites (and restarts) it


@pytest.mark.parametrize("value", ["maybe", "'true'", "1", "[]"])
def test_units_exporter_accepts_only_a_boolean(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_text(f"units: {{exporter: {value}}}\n", "test")
    message = str(caught.value)
    assert "units.exporter" in message and "true (`k3s-dr install` runs `k3s-dr exporter`" in message


def test_units_exporter_from_the_environment() -> None:
    assert Config().units.exporter is True
    assert load_config(None, env={"K3S_DR_UNITS_EXPORTER": "false"}).units.exporter is False
    with pytest.raises(ConfigError, match="K3S_DR_UNITS_EXPORTER"):
        load_config(None, env={"K3S_DR_UNITS_EXPORTER": "sometimes"})
