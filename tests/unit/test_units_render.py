"""The units install writes, rendered from the configuration (pure)."""

from __future__ import annotations

from dr_lib.checks.units import parse_conditions
from dr_lib.config import Config, config_from_text
from dr_lib.host.units import (
    MANAGED_MARKER,
    render_all,
    render_auto_restore,
    render_backup_service,
    render_backup_timer,
    render_config,
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


def test_every_managed_file_says_so_except_the_config() -> None:
    files = render_all(Config(), EXE, CFG)
    assert [f.keep_existing for f in files] == [True, False, False, False, False]
    for managed in files[1:]:
        assert managed.content.startswith(MANAGED_MARKER)
    assert MANAGED_MARKER not in files[0].content


def test_written_config_reads_back_as_the_same_config() -> None:
    config = config_from_text("backup: {keep: 5}\nchecks: {expected_kinds: [namespaces, secrets]}\n", "test")
    again = config_from_text(render_config(config), "again")
    assert again == config


def test_logrotate_names_the_log_file() -> None:
    assert render_logrotate(Config()).splitlines()[2] == "/var/log/k3s-dr.log {"
