"""``restore --datastore``: put a k3s server's datastore snapshot and token back, then restart it.

The whole server state (CA, bootstrap data, every object) comes back as it was at backup
time. The sequence is: verify the archive; extract snapshot and token (checked against the
manifest); check the SQLite snapshot (``PRAGMA integrity_check``); stop the server; move the
current database (with its ``-wal``/``-shm``) and token aside into ``pre-restore-<time>/``
(nothing the user had is lost); put the snapshot and token in place atomically; start the
server again — also when placing failed, after the previous files were moved back.

How the server stops and starts is passed in (:class:`ServerControl`): systemd for a k3s
host, the local provider's control plane in tests. An etcd snapshot is restored with k3s's
own ``k3s server --cluster-reset --cluster-reset-restore-path``, which the control runs.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dr_lib import proc
from dr_lib.archive import DatastoreFiles, extract_datastore, verify_archive
from dr_lib.atomic import fsync_dir, write_atomic_with
from dr_lib.clock import monotonic
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem, IntegrityError, ToolMissing, UsageError
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_COPY_CHUNK = 1 << 20


class ServerControl(Protocol):
    def stop(self) -> None: ...
    def start(self) -> None: ...
    def cluster_reset(self, snapshot: Path) -> None: ...


@dataclass(frozen=True)
class DatastoreTarget:
    """Where a k3s server keeps its datastore: ``<data_dir>/server/db/state.db`` and ``<data_dir>/server/token``."""

    data_dir: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / "server" / "db" / "state.db"

    @property
    def token_path(self) -> Path:
        return self.data_dir / "server" / "token"


@dataclass(frozen=True)
class DatastoreResult:
    kind: str
    db_path: Path
    token_path: Path
    previous: Path | None  # where the files that were in place before are kept
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "db_path": str(self.db_path), "token_path": str(self.token_path),
                "previous": None if self.previous is None else str(self.previous), "seconds": round(self.seconds, 3)}


def check_sqlite(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.Error as exc:
        raise IntegrityError(f"the datastore snapshot is not a usable SQLite database: {exc}") from None
    if verdict is None or verdict[0] != "ok":
        raise IntegrityError(f"the datastore snapshot fails PRAGMA integrity_check: {verdict}")


def _place(source: Path, final: Path, mode: int) -> None:
    """Copy next to ``final``, fsync, rename over it: the server never sees half a file."""
    with source.open("rb") as data:
        write_atomic_with(final, lambda out: shutil.copyfileobj(data, out, _COPY_CHUNK), mode=mode,
                          temp_name=f".{final.name}.restore-tmp")


def _set_aside(target: DatastoreTarget, now: datetime) -> tuple[Path, list[tuple[Path, Path]]]:
    aside = target.db_path.parent / f"pre-restore-{now.strftime('%Y%m%dT%H%M%SZ')}"
    aside.mkdir(mode=0o700, exist_ok=True)
    moved: list[tuple[Path, Path]] = []
    candidates = [target.db_path, *(target.db_path.with_name(target.db_path.name + s) for s in SQLITE_SIDE_FILES),
                  target.token_path]
    for path in candidates:
        if path.exists():
            kept = aside / path.name
            path.replace(kept)  # same file system: a rename, nothing copied or lost
            moved.append((path, kept))
    fsync_dir(target.db_path.parent)
    return aside, moved


def _put_back(moved: list[tuple[Path, Path]]) -> None:
    for original, kept in moved:
        kept.replace(original)


def _extract(archive: Path, work: Path, trust: SignaturePolicy) -> DatastoreFiles:
    verify_archive(archive, trust)
    files = extract_datastore(archive, work)
    if files is None:
        raise UsageError(f"archive {archive.name} holds no datastore snapshot",
                         hint="back up on the k3s server with --datastore, or restore its objects without --datastore")
    if files.kind == "sqlite":
        check_sqlite(files.snapshot)
    return files


def restore_datastore(archive: Path, target: DatastoreTarget, control: ServerControl, *,
                      now: datetime, trust: SignaturePolicy = NO_KEYS) -> DatastoreResult:
    started = monotonic()
    if not target.db_path.parent.is_dir():
        raise EnvironmentProblem(f"{target.db_path.parent} does not exist: is {target.data_dir} a k3s server's "
                                 "data dir?", hint="set backup.k3s_data_dir")
    with tempfile.TemporaryDirectory(prefix=".k3s-dr-datastore-", dir=target.db_path.parent) as work:
        files = _extract(archive, Path(work), trust)
        control.stop()
        previous: Path | None = None
        try:
            previous, moved = _set_aside(target, now)
            try:
                _place(files.token, target.token_path, 0o600)
                if files.kind == "sqlite":
                    _place(files.snapshot, target.db_path, 0o600)
                else:
                    control.cluster_reset(files.snapshot)
            except BaseException:
                _put_back(moved)
                raise
        finally:
            control.start()
    return DatastoreResult(files.kind, target.db_path, target.token_path, previous, monotonic() - started)


class SystemdK3s:
    """The k3s server of this host, through systemd (the CLI's control)."""

    def __init__(self, unit: str, data_dir: Path, timeout: float = 300.0) -> None:
        self.unit = unit
        self.data_dir = data_dir
        self.timeout = timeout

    def _run(self, argv: list[str], what: str) -> None:
        try:
            result = proc.run(argv, timeout=self.timeout, check=False)
        except ToolMissing:
            raise ToolMissing(f"cannot {what}: {argv[0]} is not installed") from None
        except DeadlineExceeded:
            raise DeadlineExceeded(f"cannot {what}: {' '.join(argv)} did not finish in {self.timeout:.0f} s") from None
        if result.returncode != 0:
            raise EnvironmentProblem(f"cannot {what}: {' '.join(argv)} exited {result.returncode}: "
                                     f"{result.stderr_tail(300)}")

    def stop(self) -> None:
        self._run(["systemctl", "stop", self.unit], f"stop {self.unit}")

    def start(self) -> None:
        self._run(["systemctl", "start", self.unit], f"start {self.unit}")

    def cluster_reset(self, snapshot: Path) -> None:
        self._run(["k3s", "server", "--data-dir", str(self.data_dir), "--cluster-reset",
                   f"--cluster-reset-restore-path={snapshot}"], "reset the etcd cluster from the snapshot")
