"""``restore --datastore`` on the local cluster's kine (SQLite) database.

The local provider keeps the k3s layout (``<dir>/server/db/state.db``, ``<dir>/server/token``)
and can stop its control plane keeping the directory, then start it again: the datastore
restore runs exactly as on a k3s host, with the provider in place of systemd.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from restore_cli import run_inprocess, run_process, write_config

from dr_lib.archive import read_manifest
from dr_lib.clock import utc_now
from dr_lib.kube.client import Kube
from dr_lib.restore.datastore import DatastoreTarget, restore_datastore

pytestmark = pytest.mark.slow


class LocalControl:
    """The local provider's control plane, standing in for `systemctl stop/start k3s`."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")
        self.handle.stop_control_plane()

    def start(self) -> None:
        self.calls.append("start")
        self.handle.start_control_plane()

    def cluster_reset(self, snapshot: Path) -> None:
        raise AssertionError(f"an SQLite datastore needs no cluster reset ({snapshot})")


def _namespace(kube: Kube, name: str) -> int:
    return kube.request("GET", f"/api/v1/namespaces/{name}").status


def _wait_api(handle: Any, timeout: float = 60.0) -> Kube:
    deadline = time.monotonic() + timeout
    while True:
        kube = Kube.from_kubeconfig(handle.kubeconfig)
        try:
            if kube.request("GET", "/readyz").ok:
                return kube
        except Exception:  # not up yet
            pass
        kube.close()
        if time.monotonic() > deadline:
            raise AssertionError("the API server did not come back")
        time.sleep(0.5)


def test_datastore_restore_brings_the_server_back_to_the_backup(cluster_factory: Any, tmp_path: Path) -> None:
    handle = cluster_factory(nodes=1)
    token = handle.dir / "server" / "token"
    token.write_text(f"K10{secrets.token_hex(16)}::server:{secrets.token_hex(8)}\n")
    token.chmod(0o600)
    config = write_config(tmp_path / "cfg")
    config.write_text(config.read_text().replace("backup:\n", f"backup:\n  k3s_data_dir: {handle.dir}\n", 1))
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "before-backup"}})
        kube.request("POST", "/api/v1/namespaces/before-backup/configmaps",
                     body={"metadata": {"name": "kept"}, "data": {"v": "1"}})
    backup = run_process(config, "backup", "--kubeconfig", str(handle.kubeconfig), "--dir", str(tmp_path / "b"),
                         "--datastore", "--json")
    assert backup.code == 0, backup.stderr
    archive = Path(backup.json()["archive"])
    assert read_manifest(archive).datastore is not None
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        kube.request("DELETE", "/api/v1/namespaces/before-backup")
        kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "after-backup"}})
    token.write_text("changed-after-backup\n")

    control = LocalControl(handle)
    result = restore_datastore(archive, DatastoreTarget(handle.dir), control, now=utc_now())

    assert control.calls == ["stop", "start"]
    assert result.kind == "sqlite" and result.previous is not None
    assert (result.previous / "state.db").is_file() and (result.previous / "token").read_text() == \
        "changed-after-backup\n"  # what was in place is kept, not lost
    assert token.read_text().startswith("K10") and oct(token.stat().st_mode & 0o777) == "0o600"
    with _wait_api(handle) as kube:
        assert _namespace(kube, "before-backup") == 200
        assert kube.get("/api/v1/namespaces/before-backup/configmaps/kept")["data"] == {"v": "1"}
        assert _namespace(kube, "after-backup") == 404


def test_datastore_restore_refuses_an_archive_without_one(cluster: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "k3s"
    (data_dir / "server" / "db").mkdir(parents=True)
    config = write_config(tmp_path / "cfg")
    config.write_text(config.read_text().replace("backup:\n", f"backup:\n  k3s_data_dir: {data_dir}\n", 1))
    backup = run_process(config, "backup", "--kubeconfig", str(cluster.kubeconfig), "--dir", str(tmp_path / "b"),
                         "--no-datastore", "--json")
    assert backup.code == 0, backup.stderr
    archive = json.loads(backup.stdout.strip().splitlines()[-1])["archive"]
    run = run_inprocess(capsys, config, "restore", archive, "--datastore")
    assert run.code == 2 and "holds no datastore snapshot" in run.stderr
    assert list((data_dir / "server" / "db").iterdir()) == []  # nothing stopped, moved or placed
    restore = json.loads((tmp_path / "cfg" / "state" / "metrics-state.json").read_text())["restore"]
    assert (restore["complete"], restore["outcome"]) == (False, "error")  # the metrics say the restore failed
