"""The backup directory's data repository: where volume copies and dumps live, deduplicated.

``<backup.dir>/data/`` is a restic repository (format 2, compressed), mode 0700, created at
first use; its password is ``<backup.dir>/data.key`` (0600, 32 random bytes as hex, created
at first use with ``O_EXCL``). Every archive that references the repository carries a copy of
the key as its member ``data/repository.key`` (hashed in its manifest), so an archive pulled
onto another machine opens the data it references. Snapshots are made with host ``k3s-dr``
and tags ``k3s-dr-data`` and ``archive:<name>``, dated with the archive's time.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.datarepo import fastkey
from dr_lib.datarepo.restic import CommandResult, ResticRepo, Sink, failure, restic
from dr_lib.errors import DRError, EnvironmentProblem, IntegrityError

REPOSITORY_DIR = "data"
KEY_FILE = "data.key"
HOST = "k3s-dr"
TAG = "k3s-dr-data"
ARCHIVE_TAG = "archive:"
LOCK_WAIT = 120.0  # a push copying from the repository may hold restic's lock meanwhile


@dataclass(frozen=True)
class Snapshot:
    """One snapshot as ``restic snapshots --json`` lists it."""

    id: str
    tree: str
    original: str | None
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    time: str

    @property
    def ref(self) -> str:
        """The persistent id: the one a manifest records, unchanged by ``restic copy``."""
        return self.original or self.id

    @property
    def archive(self) -> str | None:
        return next((t[len(ARCHIVE_TAG):] for t in self.tags if t.startswith(ARCHIVE_TAG)), None)


@dataclass(frozen=True)
class SnapNode:
    """A node of a snapshot, as ``restic ls --json`` prints it."""

    kind: str  # restic's type: file, dir, symlink, dev, chardev, fifo, socket
    size: int
    mtime_ns: int
    ctime_ns: int


def rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of restic's RFC 3339 times (nanosecond fractions, any offset)."""
    main, _, rest = text.partition(".")
    fraction, zone = "", rest
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
    else:
        for mark in ("Z", "+", "-"):
            where = main.find(mark, 10)
            if where >= 0:
                main, zone = main[:where], main[where:]
                break
    try:
        moment = datetime.fromisoformat(main + (zone.replace("Z", "+00:00") or "+00:00"))
    except ValueError:
        raise IntegrityError(f"restic printed the time {text!r}, not RFC 3339") from None
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction + "000000000")[:9])


def parse_listing(text: str) -> tuple[Snapshot, dict[str, SnapNode]]:
    """``restic ls --json``: the snapshot (first line) and every node by absolute path."""
    snapshot: Snapshot | None = None
    nodes: dict[str, SnapNode] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("struct_type") == "snapshot":
            snapshot = next(iter(parse_snapshots(json.dumps([item]))), None)
        elif item.get("struct_type") == "node":
            path = str(item.get("path", ""))
            if path in nodes:  # a tree holding one name twice: a restore would write through the first
                raise IntegrityError(f"the snapshot holds {path!r} twice: it is not what restic backup makes")
            nodes[path] = SnapNode(str(item.get("type", "")), int(item.get("size") or 0),
                                   rfc3339_ns(str(item.get("mtime", ""))), rfc3339_ns(str(item.get("ctime", ""))))
    if snapshot is None:
        raise IntegrityError("restic ls printed no snapshot")
    return snapshot, nodes


def parse_snapshots(text: str) -> list[Snapshot]:
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        raise IntegrityError("restic snapshots printed something that is not JSON") from None
    if not isinstance(raw, list):
        raise IntegrityError("restic snapshots printed no list")
    found = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("tree"), str):
            found.append(Snapshot(item["id"], item["tree"], item.get("original"),
                                  tuple(str(p) for p in item.get("paths") or ()),
                                  tuple(str(t) for t in item.get("tags") or ()), str(item.get("time", ""))))
    return found


@dataclass(frozen=True)
class BackupSummary:
    short_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.short_id, "files_new": self.files_new, "files_changed": self.files_changed,
                "files_unmodified": self.files_unmodified, "data_added": self.data_added,
                "seconds": round(self.seconds, 3)}


def parse_backup_summary(result: CommandResult) -> BackupSummary:
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{") and '"summary"' in line:
            data = json.loads(line)
            return BackupSummary(str(data.get("snapshot_id", "")), int(data.get("files_new", 0)),
                                 int(data.get("files_changed", 0)), int(data.get("files_unmodified", 0)),
                                 int(data.get("data_added", 0)), result.seconds)
    raise IntegrityError("restic backup finished without a summary: no snapshot to reference")


def _current_key(text: str) -> str | None:
    """The short id ``restic key list --json`` marks as the key it opened the repository with."""
    try:
        listed = json.loads(text or "[]")
    except ValueError:
        return None
    current = [k for k in listed if isinstance(k, dict) and k.get("current")] if isinstance(listed, list) else []
    return str(current[0].get("id")) if len(current) == 1 else None


def pattern_escape(path: str) -> str:
    """An exact path as a restic exclude pattern (its special characters escaped)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in path)


class DataRepository:
    """The data repository of one backup directory (or, on restore, the one an archive names)."""

    def __init__(self, directory: Path, *, key_file: Path | None = None, timeout: float = 3600.0) -> None:
        self.directory = directory
        self.path = directory / REPOSITORY_DIR
        self.key_file = key_file or directory / KEY_FILE
        self.timeout = timeout
        self._plain = ResticRepo(str(self.path), self.key_file, f"data repository {self.path}")
        self._hint: str | None = None

    @property
    def repo(self) -> ResticRepo:
        """The repository as restic is told about it, naming its fast key when it has one (fastkey.py)."""
        if self._hint is None:
            self._hint = fastkey.fast_key_hint(self.path) or ""
        return replace(self._plain, key_hint=self._hint or None)

    def exists(self) -> bool:
        return (self.path / "config").is_file()

    def has_snapshot_file(self, snapshot_id: str) -> bool:
        """Whether a snapshot is stored here under exactly this id (restic 0.14 does not check that a snapshot
        file's content hashes to its name when loading it: the caller still compares the tree it lists)."""
        return len(snapshot_id) == 64 and (self.path / "snapshots" / snapshot_id).is_file()

    def with_key(self, key_file: Path) -> DataRepository:
        return DataRepository(self.directory, key_file=key_file, timeout=self.timeout)

    def run(self, args: Sequence[str], deadline: float, doing: str, *, stdout_to: Sink | None = None,
            lock_wait: float = LOCK_WAIT, check: bool = True) -> CommandResult:
        return restic(self.repo, args, deadline=deadline, doing=doing, lock_wait=lock_wait, stdout_to=stdout_to,
                      check=check)

    def ensure(self, deadline: float) -> bool:
        """Create the key file and the repository when missing; True when the repository was created."""
        self._ensure_key()
        if self.exists():
            self._ensure_fast_key(deadline)
            return False
        try:
            self.path.mkdir(mode=0o700)
        except FileExistsError:
            pass  # an empty or half-made directory of a killed first run: restic init fills it
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the data repository {self.path}: {exc.strerror}") from None
        self.run(["init", "--repository-version", "2"], deadline, "create it", lock_wait=0)
        os.chmod(self.path, 0o700)  # noqa: PTH101 - restic creates it 0700 too; made explicit
        self._ensure_fast_key(deadline)
        return True

    def _ensure_fast_key(self, deadline: float) -> None:
        """Add the fast key once (repositories made before it get it at their next backup), used only once
        restic proves it opens the repository with it; otherwise removed (the calibrated key still works)."""
        if self.repo.key_hint is not None:
            return
        try:
            name = fastkey.add_fast_key(self.path, self.key_file.read_bytes(),
                                        utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        except (IntegrityError, OSError):  # a key we cannot open or a keys directory we cannot write: go slow
            self._hint = ""
            return
        hinted = replace(self._plain, key_hint=name)
        listed = restic(hinted, ["key", "list", "--json"], deadline=deadline, doing="list its keys", check=False)
        if listed.returncode == 0 and _current_key(listed.stdout) == name[:8]:
            self._hint = name
            return
        fastkey.remove_key(self.path, name)
        self._hint = ""

    def _ensure_key(self) -> None:
        if self.key_file.is_file():
            return
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the data repository key {self.key_file}: {exc.strerror}",
                                     hint="backup.dir must be writable by root only") from None
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def adopt_key(self, key: bytes) -> None:
        """On a machine without a repository yet, use the key an archive carries (its data opens with it)."""
        if self.key_file.exists() or self.exists():
            return
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())

    def backup(self, paths: Sequence[str], *, excludes: Sequence[str], tags: Sequence[str], when: str,
               exclude_file: Path, deadline: float) -> BackupSummary:
        """One snapshot of ``paths`` (absolute); restic picks the parent with the same host and paths."""
        exclude_file.write_text("".join(pattern_escape(p) + "\n" for p in excludes), encoding="utf-8")
        args = ["backup", "--json", "--quiet", "--host", HOST, "--time", when, "--exclude-file", str(exclude_file),
                *[f"--tag={t}" for t in (TAG, *tags)], "--", *paths]
        result = self.run(args, deadline, "back up application data", check=False)
        if result.returncode == 3:  # a file vanished or became unreadable while read: the fence retries
            raise DRError(f"{self.repo.label}: some files could not be read while backing them up",
                          hint=result.stderr.strip()[-300:])
        if result.returncode != 0:
            raise failure(self.repo, result, "back up application data")
        return parse_backup_summary(result)

    # Reads below take no restic lock: they run under our own backup lock, which every writer of this
    # repository holds (backup, its prune, pull), so nothing is removed beneath them; a push copying
    # from it only reads too.
    def snapshots(self, deadline: float, *, tag: str | None = TAG) -> list[Snapshot]:
        args = ["snapshots", "--no-lock", "--json", *([f"--tag={tag}"] if tag else [])]
        return parse_snapshots(self.run(args, deadline, "list its snapshots").stdout)

    def check(self, deadline: float, *, subset: str | None = None) -> CommandResult:
        # No lock either: a push copying from the repository (it only reads) must not make a backup's check
        # wait for it; a prune, the only remover, runs in a backup, under our lock.
        args = ["check", "--no-lock", *([f"--read-data-subset={subset}"] if subset else [])]
        return self.run(args, deadline, "check it")

    def forget_and_prune(self, ids: Sequence[str], deadline: float) -> None:
        if ids:
            self.run(["forget", "--prune", *ids], deadline, f"forget {len(ids)} snapshots and prune")

    def dump(self, snapshot: str, path: str, deadline: float, sink: Sink) -> None:
        """``restic dump SNAPSHOT PATH`` into ``sink``: a tar for a directory, the bytes for a file."""
        self.run(["dump", "--no-lock", snapshot, path], deadline, f"read {path} of snapshot {snapshot[:12]}",
                 stdout_to=sink)

    def restore(self, snapshot: str, path: str, target: str, deadline: float) -> None:
        """``restic restore`` of ``path`` (exactly: its pattern escaped) of a snapshot below ``target``.

        restic's parallel restorer checks every blob's sha256 against its id as it writes it; the
        directories above ``path`` are made below ``target`` too (``TARGET/var/lib/...``).
        """
        self.run(["restore", "--no-lock", "--quiet", snapshot, "--target", target,
                  "--include", pattern_escape(path)], deadline, f"restore {path} of snapshot {snapshot[:12]}")

    def listing(self, snapshot: str, deadline: float, *paths: str) -> tuple[Snapshot, dict[str, SnapNode]]:
        """The snapshot (full id, tree) and its nodes (all, or those under ``paths``) by absolute path."""
        # with paths, restic 0.14 lists only each path and its direct children unless told to descend
        out = self.run(["ls", "--no-lock", "--json", *(["--recursive"] if paths else []), snapshot, *paths], deadline,
                       f"list snapshot {snapshot[:12]}").stdout
        return parse_listing(out)
