"""Datastore snapshot on real SQLite files (WAL, under concurrent writes) and the token rules."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from dr_lib.backup.datastore import (
    DatastoreSource,
    detect_datastore,
    etcd_command,
    snapshot_etcd,
    snapshot_sqlite,
    take_snapshot,
)
from dr_lib.errors import EnvironmentProblem


def wal_db(path: Path, rows: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, value BLOB)")
    db.executemany("INSERT INTO kv (value) VALUES (?)", [(os.urandom(200),) for _ in range(rows)])
    db.commit()
    db.close()


def server_dir(tmp_path: Path, *, token: bytes | None = b"K10abc::server:secret\n") -> Path:
    data = tmp_path / "k3s"
    wal_db(data / "server" / "db" / "state.db", rows=100)
    if token is not None:
        (data / "server" / "token").write_bytes(token)
    return data


def test_detect_sqlite_etcd_or_nothing(tmp_path: Path) -> None:
    assert detect_datastore(tmp_path / "absent") is None
    data = server_dir(tmp_path)
    found = detect_datastore(data)
    assert found == DatastoreSource("sqlite", data, data / "server/db/state.db", data / "server/token")
    etcd = tmp_path / "etcd-server"
    (etcd / "server" / "db" / "etcd").mkdir(parents=True)
    assert detect_datastore(etcd) == DatastoreSource("etcd", etcd, None, etcd / "server/token")


def test_sqlite_snapshot_under_write_load_is_consistent_and_self_contained(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    wal_db(source, rows=2000)
    stop = threading.Event()
    written = [0]

    def writer() -> None:  # another connection keeps committing, as kine does
        db = sqlite3.connect(source, timeout=10)
        while not stop.is_set():
            db.execute("INSERT INTO kv (value) VALUES (?)", (os.urandom(500),))
            db.commit()
            written[0] += 1
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 200:
            threading.Event().wait(0.01)
        snapshots = []
        for i in range(3):
            target = tmp_path / f"snap-{i}.db"
            snapshot_sqlite(source, target)
            snapshots.append(target)
    finally:
        stop.set()
        thread.join(timeout=30)
    counts = []
    for target in snapshots:
        assert not Path(f"{target}-wal").exists()  # rollback journal: one file is the whole snapshot
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        copy = sqlite3.connect(target)
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        counts.append(copy.execute("SELECT count(*) FROM kv").fetchone()[0])
        copy.close()
    assert counts[0] >= 2200  # every row committed before the snapshot began
    assert counts == sorted(counts)


def test_take_snapshot_records_both_members(tmp_path: Path) -> None:
    data = server_dir(tmp_path)
    spool = tmp_path / "spool"
    spool.mkdir()
    snapshot = take_snapshot(detect_datastore(data), spool, "k3s-dr-x")  # type: ignore[arg-type]
    entry = snapshot.entry
    assert (entry.kind, entry.path, entry.token_path) == ("sqlite", "datastore/state.db", "datastore/token")
    assert entry.bytes == snapshot.snapshot.stat().st_size and entry.token_bytes == 22
    assert snapshot.token.read_bytes() == b"K10abc::server:secret\n"


@pytest.mark.parametrize(("token", "message"), [(None, "does not exist"), (b"  \n", "is empty")])
def test_a_datastore_without_its_token_is_an_error(tmp_path: Path, token: bytes | None, message: str) -> None:
    data = server_dir(tmp_path, token=token)
    spool = tmp_path / "spool"
    spool.mkdir()
    with pytest.raises(EnvironmentProblem, match=message):
        take_snapshot(detect_datastore(data), spool, "k3s-dr-x")  # type: ignore[arg-type]


def test_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        snapshot_sqlite(tmp_path / "nope.db", tmp_path / "copy.db")


def test_etcd_without_the_k3s_command_is_an_environment_problem(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match="no 'k3s' command on PATH"):
        snapshot_etcd(tmp_path, tmp_path, "k3s-dr-x")


def test_etcd_command_line() -> None:
    assert etcd_command("/usr/local/bin/k3s", Path("/var/lib/rancher/k3s"), Path("/spool"), "k3s-dr-1") == [
        "/usr/local/bin/k3s", "etcd-snapshot", "save", "--data-dir", "/var/lib/rancher/k3s", "--dir", "/spool",
        "--name", "k3s-dr-1"]


def _fake_k3s(directory: Path, body: str) -> None:
    """A FAKE k3s (shell script): only to exercise how we run it and find the file it writes."""
    script = directory / "k3s"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)


def test_etcd_snapshot_file_is_found_and_failures_are_reported(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    out = tmp_path / "out"
    out.mkdir()
    # k3s names the file <name>-<node>-<unix time>
    _fake_k3s(bin_dir, 'while [ "$1" != "--dir" ]; do shift; done; echo snap > "$2/$4-node1-1764300000"\n')
    assert snapshot_etcd(tmp_path, out, "k3s-dr-1").name == "k3s-dr-1-node1-1764300000"
    _fake_k3s(bin_dir, 'echo "etcd database not found in /var/lib/rancher/k3s/server/db" >&2; exit 1\n')
    with pytest.raises(EnvironmentProblem, match=r"exit 1.*etcd database not found"):
        snapshot_etcd(tmp_path, out, "k3s-dr-2")
    _fake_k3s(bin_dir, "exit 0\n")
    with pytest.raises(EnvironmentProblem, match="wrote no k3s-dr-3"):
        snapshot_etcd(tmp_path, out, "k3s-dr-3")
