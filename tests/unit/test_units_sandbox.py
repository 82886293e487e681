"""The sandbox of the backup and auto-restore units (pure): what each may write, and what it is denied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _unit_files import directives

from dr_lib.config import Config, config_from_text
from dr_lib.host.install import directories
from dr_lib.host.sandbox import (
    SETTINGS,
    WRITABLE,
    Role,
    created_directories,
    render_tmpfiles,
    writable_paths,
    writable_table,
)
from dr_lib.host.units import render_all, render_auto_restore, render_backup_service, render_exporter

EXE = "/opt/k3s-dr/bin/k3s-dr"
CFG = "/etc/k3s-dr/config.yaml"
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _writable(text: str) -> list[str]:
    (line,) = directives(text)["ReadWritePaths"]
    return line.split()


def test_the_backup_unit_writes_its_archives_state_lock_log_and_metrics_only() -> None:
    found = directives(render_backup_service(Config(), EXE, CFG))
    assert found["ProtectSystem"] == ["strict"] and found["PrivateTmp"] == ["yes"]
    assert found["NoNewPrivileges"] == ["yes"] and found["ProtectHome"] == ["read-only"]
    assert "RuntimeDirectory" not in found  # systemd would remove the lock's directory when one run ends
    assert _writable(render_backup_service(Config(), EXE, CFG)) == [
        "-/var/backups/k3s-cluster", "-/var/lib/k3s-dr", "-/run/k3s-dr", "-/var/log/k3s-dr.log",
        "-/var/lib/node_exporter/textfile_collector"]
    assert found["CapabilityBoundingSet"] == ["CAP_DAC_READ_SEARCH"]


def test_the_auto_restore_unit_writes_state_lock_metrics_and_volumes_but_not_the_backups() -> None:
    text = render_auto_restore(Config(), EXE, CFG)
    assert _writable(text) == ["-/var/lib/k3s-dr", "-/run/k3s-dr", "-/var/lib/node_exporter/textfile_collector",
                               "-/var/lib/rancher/k3s/storage"]
    found = directives(text)
    assert found["CapabilityBoundingSet"] == ["CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID"]
    # the sandbox is in [Service], before [Install]
    assert text.index("ProtectSystem=strict") < text.index("[Install]")


def test_paths_follow_the_configuration() -> None:
    config = config_from_text(
        "backup: {dir: /srv/dr, lock_file: /var/lib/dr-lock/dr.lock, log_file: /srv/log/dr.log, "
        "k3s_data_dir: /data/k3s}\n"
        "restore: {state_dir: /srv/state}\nmetrics: {textfile: /srv/prom/dr.prom, state_file: /srv/m/state.json}\n"
        "offsite: {targets: {home: {type: restic, repository: /srv/restic, password_file: /etc/k3s-dr/pw}, "
        "far: {type: restic, repository: 'sftp:host:/x', password_file: /etc/k3s-dr/pw}}}\n", "test")
    assert [p for p, _ in writable_paths(config, Role.BACKUP)] == [
        "/srv/dr", "/srv/state", "/var/lib/dr-lock", "/srv/log/dr.log", "/srv/prom", "/srv/m", "/srv/restic"]
    assert [p for p, _ in writable_paths(config, Role.AUTO_RESTORE)] == [
        "/srv/state", "/var/lib/dr-lock", "/srv/prom", "/srv/m", "/data/k3s/storage"]
    assert render_tmpfiles(config) == "d /var/lib/dr-lock 0700 root root -\n"


def test_install_creates_a_local_restic_repository_the_sandbox_cannot() -> None:
    # A missing `-` path is left out of the unit's namespace: the first push's `restic init` then meets a
    # read-only /srv (seen on the reference host: "mkdir /srv/restic-repo: read-only file system").
    config = config_from_text(
        "offsite: {targets: {home: {type: restic, repository: /srv/restic-repo/, password_file: /etc/k3s-dr/pw}, "
        "far: {type: restic, repository: 'sftp:host:/x', password_file: /etc/k3s-dr/pw}}}\n", "test")
    assert created_directories(config) == {"/run/k3s-dr": 0o700, "/srv/restic-repo": 0o700}
    assert directories(config, CFG)["/srv/restic-repo"] == 0o700
    assert "-/srv/restic-repo" in _writable(render_backup_service(config, EXE, CFG))
    assert created_directories(Config()) == {"/run/k3s-dr": 0o700}


def test_a_path_named_twice_is_written_once() -> None:
    config = config_from_text("metrics: {state_file: /var/lib/k3s-dr/metrics.json}\n", "test")
    paths = [p for p, _ in writable_paths(config, Role.BACKUP)]
    assert paths.count("/var/lib/k3s-dr") == 1


def test_the_zfs_backend_keeps_its_device_and_capability() -> None:
    config = config_from_text("hooks: {volume_backend: zfs}\n", "test")
    for text in (render_backup_service(config, EXE, CFG), render_auto_restore(config, EXE, CFG)):
        found = directives(text)
        assert "PrivateDevices" not in found and found["CapabilityBoundingSet"][0].endswith(" CAP_SYS_ADMIN")
    assert directives(render_backup_service(Config(), EXE, CFG))["PrivateDevices"] == ["yes"]


def test_every_setting_and_path_says_why() -> None:
    for row in WRITABLE:
        assert len(row.why) > 15 and row.roles, row
    for setting in SETTINGS:
        assert len(setting.why) > 10, setting


def test_the_exporter_keeps_its_read_only_sandbox() -> None:
    assert "ReadWritePaths" not in directives(render_exporter(Config(), EXE, CFG))


def test_install_writes_the_tmpfiles_line_for_the_lock_directory() -> None:
    files = {f.path: f for f in render_all(Config(), EXE, CFG)}
    tmpfiles = files["/usr/local/lib/tmpfiles.d/k3s-dr.conf"]
    assert [line for line in tmpfiles.content.splitlines() if not line.startswith("#")] == [
        "d /run/k3s-dr 0700 root root -"]


@pytest.mark.parametrize("role", list(Role))
def test_no_path_is_relative_or_the_root(role: Role) -> None:
    for path, _why in writable_paths(Config(), role):
        assert path.startswith("/") and path != "/" and not re.search(r"\s", path), path


def test_the_security_page_shows_the_table_for_the_default_configuration() -> None:
    text = SECURITY_DOC.read_text()
    begin, end = "<!-- writable-paths: begin -->\n", "<!-- writable-paths: end -->"
    shown = text[text.index(begin) + len(begin):text.index(end)]
    assert shown == writable_table(Config()), "paste dr_lib.host.sandbox.writable_table(Config()) between the markers"
