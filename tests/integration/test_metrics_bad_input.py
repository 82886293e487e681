"""The exporter under bad input: a taken port, an unreadable backup directory, a corrupt archive.
A clear error where it cannot serve, a failure metric where it can — and it keeps serving."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from dr_lib.archive.access import verify_archive
from dr_lib.archive.links import promote
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.clock import utc_now
from dr_lib.config import load_config
from dr_lib.jobs.metrics import metrics_text
from tests.integration._metrics_helpers import cli, exporter, make_layout, parse, value
from tests.skip_rule import unavailable
from tests.unit._archive_factory import CONFIGMAPS, good_archive
from tests.unit._as_nobody import run_as_nobody


def one_good_archive(backups: Path) -> Path:
    backups.mkdir(mode=0o700, exist_ok=True)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "app"}, "data": {}}
    archive = good_archive(backups, {CONFIGMAPS: [cm]}, created="2026-01-01T00:00:00Z")
    write_sidecar(verify_archive(archive), utc_now())
    promote(backups, archive.name, ["latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz"])
    return archive


def test_a_taken_port_is_a_clear_error_with_the_environment_exit_code(tmp_path):
    layout = make_layout(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = cli(layout, "exporter", "--listen", f"127.0.0.1:{port}", timeout=30)
    assert run.code == 7
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_bad_listen_address_is_a_usage_error(tmp_path):
    run = cli(make_layout(tmp_path), "exporter", "--listen", "nine-one-oh-one", timeout=30)
    assert run.code == 2
    assert "HOST:PORT" in run.stderr


def test_a_corrupt_archive_and_a_vanished_directory_become_metrics_while_it_keeps_serving(tmp_path):
    layout = make_layout(tmp_path)
    archive = one_good_archive(layout.backups)
    with exporter(layout) as running:
        healthy = running.scrape()
        assert value(healthy, "k3s_dr_backup_archives_unreadable") == 0
        assert value(healthy, "k3s_dr_backup_archives_verified") == 1

        corrupt = layout.backups / "k3s-dr-20260101T010000Z.tar.gz"
        corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage that is not an archive")
        got = running.scrape()
        assert value(got, "k3s_dr_backup_archives_unreadable") == 1
        assert value(got, "k3s_dr_backup_count") == 2
        assert value(got, "k3s_dr_backup_size_bytes") == archive.stat().st_size  # the good one still counts
        assert value(got, "k3s_dr_collection_error", source="backup_dir") == 0

        moved = layout.root / "moved-away"
        layout.backups.rename(moved)
        layout.backups.write_text("not a directory any more")
        got = running.scrape()
        assert value(got, "k3s_dr_collection_error", source="backup_dir") == 1
        assert value(got, "k3s_dr_backup_count") is None

        layout.backups.unlink()
        moved.rename(layout.backups)
        got = running.scrape()
        assert value(got, "k3s_dr_collection_error", source="backup_dir") == 0
        assert value(got, "k3s_dr_backup_count") == 2
        process = running.process
    assert process.returncode == 0  # SIGTERM is a clean stop, as systemd expects


def test_a_damaged_state_file_is_a_metric_not_a_crash(tmp_path):
    layout = make_layout(tmp_path)
    one_good_archive(layout.backups)
    layout.state_dir.mkdir()
    (layout.state_dir / "metrics-state.json").write_text("{half a json")
    with exporter(layout) as running:
        got = running.scrape()
    assert value(got, "k3s_dr_collection_error", source="state") == 1
    assert value(got, "k3s_dr_backup_count") == 1  # everything else still collected


def test_a_permission_denied_backup_directory_is_a_metric(tmp_path):
    """Collected as nobody (a forked child of this root process: CI's Python cannot be run by nobody)."""
    if os.geteuid() != 0:
        unavailable("needs root to drop to another user")
    root = Path(tempfile.mkdtemp(prefix="k3s-dr-metrics-"))
    try:
        root.chmod(0o755)
        layout = make_layout(root)
        one_good_archive(layout.backups)  # 0700, owned by root: unreadable for nobody
        layout.config.chmod(0o644)
        got = parse(run_as_nobody(lambda: metrics_text(load_config(layout.config, env={}))))
        assert value(got, "k3s_dr_collection_error", source="backup_dir") == 1
        assert value(got, "k3s_dr_collection_error", source="state") == 0  # only the directory is unreadable
    finally:
        shutil.rmtree(root, ignore_errors=True)
