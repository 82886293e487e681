"""The k3s server datastore snapshot, always together with the server token.

API objects alone cannot rebuild a k3s server (its CA, its bootstrap data live in the
datastore), and a datastore without the token that encrypts that bootstrap data is useless:
so a snapshot without a readable token is an error, never a silent half-backup.

* SQLite (the default single server): SQLite's online backup API, in one step, inside one read
  transaction: a consistent copy even while kine writes (a file copy of a live WAL database
  can miss committed transactions). The copy is switched to a self-contained rollback
  journal and must pass ``PRAGMA integrity_check``.
* embedded etcd: ``k3s etcd-snapshot save``, the k3s command made for it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from dr_lib import proc
from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import create_private, os_problem
from dr_lib.archive.manifest import DatastoreEntry
from dr_lib.errors import EnvironmentProblem, UsageError

ETCD_SNAPSHOT_TIMEOUT = 600.0


@dataclass(frozen=True)
class DatastoreSource:
    kind: str  # "sqlite" | "etcd"
    data_dir: Path  # the k3s data dir (``/var/lib/rancher/k3s``)
    db_path: Path | None  # the SQLite file (sqlite only)
    token_path: Path


@dataclass(frozen=True)
class DatastoreSnapshot:
    entry: DatastoreEntry
    snapshot: Path
    token: Path


def detect_datastore(data_dir: Path) -> DatastoreSource | None:
    """The datastore of a k3s server whose data dir is ``data_dir``; None when this is no server."""
    server = data_dir / "server"
    token = server / "token"
    sqlite_db = server / "db" / "state.db"
    if sqlite_db.is_file():
        return DatastoreSource("sqlite", data_dir, sqlite_db, token)
    if (server / "db" / "etcd").is_dir():
        return DatastoreSource("etcd", data_dir, None, token)
    return None


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def copy_token(source: Path, target: Path) -> None:
    try:
        token = source.read_bytes()
    except FileNotFoundError:
        raise EnvironmentProblem(f"the k3s server token {str(source)!r} does not exist",
                                 hint="a datastore snapshot is useless without it; "
                                      "pass --no-datastore to back up API objects only") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the k3s server token {str(source)!r}: {exc.strerror}",
                                 hint="run as root on the k3s server") from None
    if not token.strip():
        raise EnvironmentProblem(f"the k3s server token {str(source)!r} is empty")
    try:
        with open(create_private(target), "wb") as handle:
            handle.write(token)
    except OSError as exc:
        raise os_problem(exc, "write", target) from None


def snapshot_sqlite(db_path: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database at ``target``, checked by integrity_check."""
    if not db_path.is_file():
        raise EnvironmentProblem(f"the SQLite datastore {str(db_path)!r} does not exist")
    target.touch(mode=fmt.ARCHIVE_FILE_MODE, exist_ok=False)
    try:
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # pages=-1: one step, one read transaction, one consistent state
                copy.execute("PRAGMA journal_mode=DELETE")
                verdict = copy.execute("PRAGMA integrity_check").fetchall()
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"SQLite online backup of {str(db_path)!r} failed: {exc}") from None
    if verdict != [("ok",)]:
        raise EnvironmentProblem(f"the SQLite snapshot of {str(db_path)!r} fails integrity_check: {verdict[:3]}")


def etcd_command(k3s: str, data_dir: Path, directory: Path, name: str) -> list[str]:
    return [k3s, "etcd-snapshot", "save", "--data-dir", str(data_dir), "--dir", str(directory), "--name", name]


def snapshot_etcd(data_dir: Path, directory: Path, name: str, *, timeout: float = ETCD_SNAPSHOT_TIMEOUT) -> Path:
    """Run ``k3s etcd-snapshot save`` into ``directory``; the file it wrote."""
    k3s = shutil.which("k3s")
    if k3s is None:
        raise EnvironmentProblem("embedded etcd found but no 'k3s' command on PATH to snapshot it")
    done = proc.run(etcd_command(k3s, data_dir, directory, name), timeout=timeout, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentProblem(f"'k3s etcd-snapshot save' failed (exit {done.returncode}): {tail[0]}")
    written = sorted((p for p in directory.glob(f"{name}*") if p.is_file()), key=lambda p: p.stat().st_mtime)
    if not written:
        raise EnvironmentProblem(f"'k3s etcd-snapshot save' reported success but wrote no {name}* in {directory}")
    return written[-1]


def take_snapshot(source: DatastoreSource, spool_dir: Path, name: str) -> DatastoreSnapshot:
    """Snapshot and token into ``spool_dir``, described as the manifest records them."""
    token = spool_dir / "datastore-token"
    copy_token(source.token_path, token)
    if source.kind == "sqlite":
        if source.db_path is None:
            raise UsageError("a sqlite datastore source needs db_path")
        snapshot = spool_dir / "datastore-state.db"
        snapshot_sqlite(source.db_path, snapshot)
        member = fmt.SQLITE_MEMBER
    else:
        snapshot = snapshot_etcd(source.data_dir, spool_dir, name)
        member = fmt.ETCD_MEMBER
    snapshot.chmod(fmt.ARCHIVE_FILE_MODE)
    sha, size = _digest(snapshot)
    token_sha, token_size = _digest(token)
    entry = DatastoreEntry(source.kind, member, fmt.TOKEN_MEMBER, sha, size, token_sha, token_size)
    return DatastoreSnapshot(entry, snapshot, token)
