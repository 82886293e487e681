"""The datastore snapshot: the local cluster's live kine SQLite database, under write load, with its token."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from _backup_helpers import cli, create, isolated_env

from dr_lib.archive import extract_datastore, read_manifest, verify_archive
from dr_lib.backup.datastore import DatastoreSource
from dr_lib.backup.run import BackupRequest, run_backup
from dr_lib.backup.scope import ScopeOptions
from dr_lib.kube.client import Kube

TOKEN = b"K10f00dfeed::server:0123456789abcdef\n"


def test_live_kine_database_snapshot_under_write_load(cluster: Any, kube: Kube, namespace: str,
                                                      tmp_path: Path) -> None:
    create(kube, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "before"}, "data": {"x": "1"}})
    token = tmp_path / "token"
    token.write_bytes(TOKEN)
    stop = threading.Event()
    writes: list[int] = []

    def load() -> None:  # the API server keeps writing into kine while we snapshot it
        with Kube.from_kubeconfig(cluster.kubeconfig) as writer:
            while not stop.is_set():
                body = {"metadata": {"name": f"load-{len(writes)}"}, "data": {"x": "y" * 500}}
                if writer.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body).ok:
                    writes.append(1)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        while len(writes) < 20:
            stop.wait(0.05)
        request = BackupRequest(
            kubeconfig=cluster.kubeconfig, directory=tmp_path / "b", lock_file=tmp_path / "lock",
            options=ScopeOptions(include_kinds=("configmaps",), include_namespaces=(namespace,)),
            datastore="on", datastore_source=DatastoreSource("sqlite", tmp_path, cluster.db_path, token))
        before = len(writes)
        result = run_backup(request)
        during = len(writes)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert during > before, "the write load did not run during the backup"
    assert result.promoted and result.datastore is not None and result.datastore["kind"] == "sqlite"
    manifest = verify_archive(result.archive).manifest
    assert manifest.datastore is not None and manifest.datastore.token_bytes == len(TOKEN)

    out = tmp_path / "restored"
    out.mkdir()
    files = extract_datastore(result.archive, out)
    assert files is not None and files.token.read_bytes() == TOKEN
    db = sqlite3.connect(files.snapshot)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = {row[0] for row in db.execute("SELECT name FROM kine WHERE name LIKE ?",
                                              (f"/registry/configmaps/{namespace}/%",))}
        namespace_rows = db.execute("SELECT count(*) FROM kine WHERE name = ?",
                                    (f"/registry/namespaces/{namespace}",)).fetchone()[0]
    finally:
        db.close()
    assert namespace_rows >= 1
    assert f"/registry/configmaps/{namespace}/before" in names
    assert len(names) >= 20  # the configmaps written before the snapshot are in it


def _sqlite_server(data_dir: Path, token: bytes | None) -> None:
    db_path = data_dir / "server" / "db" / "state.db"
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE kine (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO kine (name) VALUES ('/registry/namespaces/default')")
    db.commit()
    db.close()
    if token is not None:
        (data_dir / "server" / "token").write_bytes(token)


def test_cli_takes_the_datastore_automatically_on_a_server_and_requires_the_token(cluster: Any, namespace: str,
                                                                                  tmp_path: Path) -> None:
    data_dir = tmp_path / "k3s"
    _sqlite_server(data_dir, TOKEN)
    env = isolated_env(tmp_path, K3S_DR_BACKUP_K3S_DATA_DIR=str(data_dir))
    args = ("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--json", "-n", namespace,
            "--kind", "configmaps")
    run = cli(*args, env=env)
    assert run.code == 0, run.stderr
    assert run.json["datastore"]["kind"] == "sqlite"
    assert read_manifest(Path(run.json["archive"])).datastore is not None

    skipped = cli(*args, "--no-datastore", "--allow-shrink", env=env)
    assert skipped.code == 0 and skipped.json["datastore"] is None

    (data_dir / "server" / "token").unlink()
    missing = cli(*args, env=env)
    assert missing.code == 7
    assert "the k3s server token" in missing.stderr and "does not exist" in missing.stderr
    assert read_manifest(Path(skipped.json["archive"])).datastore is None  # nothing newer was written
    assert sorted(p.name for p in (tmp_path / "b").iterdir() if p.name.endswith(".tar.gz") and "k3s-dr-" in p.name)\
        == sorted({Path(run.json["archive"]).name, Path(skipped.json["archive"]).name})


def test_datastore_required_but_absent_is_an_environment_problem(cluster: Any, tmp_path: Path) -> None:
    run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--datastore",
              env=isolated_env(tmp_path))
    assert run.code == 7
    assert "--datastore: no k3s datastore under" in run.stderr
