"""Everything the controls judge about one host, as values: its layout (from its own config),
the probe's file facts and systemd's unit facts. Verdicts are pure functions of a :class:`HostFacts`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from dr_lib.checks.endpoints import exporter_url
from dr_lib.checks.pushstate import PUSH_STATE_NAME
from dr_lib.checks.units import HostClock, UnitFacts
from dr_lib.checks.waivers import WaiverSet
from dr_lib.config import DEFAULT_KEYS_DIR, Config, duration_seconds

LOGROTATE_PATH = "/etc/logrotate.d/k3s-dr"
# Not configurable, unlike the other units: no earlier layout named it, and a fixed name is what
# operators and the checks look for; `units.exporter: false` is how a host does without it.
EXPORTER_UNIT = "k3s-dr-exporter.service"
SIDECAR_SUFFIX = ".verified.json"


@dataclass(frozen=True)
class Layout:
    """Paths and unit names of one host, all taken from that host's configuration."""

    config: Config
    config_path: str

    @property
    def backup_dir(self) -> str:
        return self.config.backup.dir

    @property
    def latest_link(self) -> str:
        return posixpath.join(self.backup_dir, self.config.backup.latest_link)

    @property
    def snapshot_link(self) -> str:
        return posixpath.join(self.backup_dir, self.config.backup.snapshot_link)

    @property
    def server_dir(self) -> str:
        return posixpath.join(self.config.backup.k3s_data_dir, "server")

    @property
    def token(self) -> str:
        return posixpath.join(self.server_dir, "token")

    @property
    def sqlite_db(self) -> str:
        return posixpath.join(self.server_dir, "db", "state.db")

    @property
    def etcd_dir(self) -> str:
        return posixpath.join(self.server_dir, "db", "etcd")

    @property
    def rpo_seconds(self) -> int:
        return duration_seconds(self.config.targets.rpo)

    @property
    def unit_names(self) -> tuple[str, ...]:
        """Every unit the controls read, the exporter's even when it is not wanted (its absence is then shown)."""
        units = self.config.units
        return (units.k3s, units.backup, units.backup_timer, units.auto_restore, EXPORTER_UNIT)

    @property
    def push_state(self) -> str:
        """The record of the last offsite push per target (DR-OFFSITE-*)."""
        return posixpath.join(self.config.restore.state_dir, PUSH_STATE_NAME)

    @property
    def expected_kinds(self) -> tuple[str, ...]:
        raw = self.config.checks.expected_kinds
        items = raw.split(",") if isinstance(raw, str) else raw
        return tuple(k.strip() for k in items if k.strip())

    @property
    def verify_keys(self) -> tuple[str, ...]:
        """The configured verify key files (``auto``: the one ``k3s-dr install`` makes), read by the probe."""
        raw = self.config.trust.verify_keys
        items = [i.strip() for i in (raw.split(",") if isinstance(raw, str) else raw) if i.strip()]
        return tuple(posixpath.join(DEFAULT_KEYS_DIR, "verify-key.pem") if i == "auto" else i for i in items)

    def probe_request(self) -> dict[str, Any]:
        return {
            "paths": [self.backup_dir, self.latest_link, self.snapshot_link, self.token, self.sqlite_db,
                      self.etcd_dir, self.server_dir, self.config.metrics.textfile],
            "backup_dir": self.backup_dir,
            "archive_glob": self.config.checks.archive_glob,
            "read": [self.config.checks.waivers, LOGROTATE_PATH, self.config.metrics.textfile, self.push_state,
                     *self.verify_keys],
            "log": self.config.backup.log_file,
            "log_bytes": 256 * 1024,
            "scrape": exporter_url(self.config.metrics.listen) if self.config.checks.metrics != "off" else None,
        }


@dataclass(frozen=True)
class PathFacts:
    path: str
    lexists: bool = False
    exists: bool = False
    is_link: bool = False
    target: str | None = None
    resolved: str | None = None
    kind: str = "missing"
    mode: int = 0
    uid: int = -1
    size: int = 0
    mtime: float = 0.0
    lmtime: float = 0.0
    executable: bool = False

    @property
    def dangling(self) -> bool:
        return self.is_link and not self.exists


@dataclass(frozen=True)
class ArchiveFacts:
    name: str
    path: str
    real: str
    mode: int
    size: int
    mtime: float
    sidecar: Mapping[str, Any] | None
    sha256: str | None

    @property
    def claims_verified(self) -> bool:
        return isinstance(self.sidecar, Mapping) and isinstance(self.sidecar.get("sha256"), str)

    @property
    def verified(self) -> bool:
        """Verified, and not changed since: the sidecar's digest is the file's digest now."""
        return self.claims_verified and self.sha256 is not None and self.sidecar is not None and (
            self.sidecar.get("sha256") == self.sha256
        )


@dataclass(frozen=True)
class Inspection:
    name: str
    manifest: Mapping[str, Any] | None
    members: Mapping[str, Mapping[str, Any]]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class FileFacts:
    clock: HostClock
    stats: Mapping[str, PathFacts]
    archives: tuple[ArchiveFacts, ...]  # newest first
    newest_verified: str | None
    inspected: Inspection | None
    files: Mapping[str, tuple[str | None, str | None]]  # path -> (content, error)
    log_lines: tuple[str, ...] | None
    log_error: str | None = None
    scrape: Mapping[str, Any] | None = None  # the exporter's answer (status, body, error)

    def stat(self, path: str) -> PathFacts:
        return self.stats.get(path, PathFacts(path))

    def archive_at(self, real_path: str | None) -> ArchiveFacts | None:
        return next((a for a in self.archives if a.real == real_path), None)

    def archive_named(self, name: str | None) -> ArchiveFacts | None:
        return next((a for a in self.archives if a.name == name), None)

    def content(self, path: str) -> str | None:
        return self.files.get(path, (None, None))[0]

    @property
    def host_today(self) -> date:
        zone = timezone(timedelta(seconds=self.clock.utc_offset))
        return datetime.fromtimestamp(self.clock.now, UTC).astimezone(zone).date()


def _path_facts(raw: Mapping[str, Any]) -> PathFacts:
    known = {k: raw[k] for k in PathFacts.__dataclass_fields__ if k in raw and raw[k] is not None}
    return PathFacts(**known)


def file_facts_from_probe(data: Mapping[str, Any]) -> FileFacts:
    """Typed facts from the probe's JSON (see :mod:`dr_lib.checks.probe`)."""
    clock = HostClock(float(data["now"]), float(data["monotonic"]), int(data.get("utc_offset", 0)))
    archives = tuple(
        ArchiveFacts(a["name"], a["path"], a.get("real", a["path"]), int(a["mode"]), int(a["size"]),
                     float(a["mtime"]), a["sidecar"], a.get("sha256"))
        for a in data.get("archives", [])
    )
    raw_inspected = data.get("inspected")
    inspected = None
    if isinstance(raw_inspected, Mapping):
        inspected = Inspection(raw_inspected["name"], raw_inspected.get("manifest"),
                               MappingProxyType(dict(raw_inspected.get("members", {}))),
                               tuple(raw_inspected.get("problems", [])))
    log = data.get("log") or {}
    lines = log.get("lines")
    return FileFacts(
        clock=clock,
        stats=MappingProxyType({p: _path_facts(s) for p, s in data.get("stats", {}).items()}),
        archives=archives,
        newest_verified=data.get("newest_verified"),
        inspected=inspected,
        files=MappingProxyType({p: (f.get("content"), f.get("error")) for p, f in data.get("files", {}).items()}),
        log_lines=tuple(lines) if lines is not None else None,
        log_error=log.get("error"),
        scrape=data.get("scrape"),
    )


@dataclass(frozen=True)
class HostFacts:
    """One host, as the controls see it."""

    host: str
    layout: Layout
    files: FileFacts
    units: Mapping[str, UnitFacts]
    waivers: WaiverSet
    config_problem: str | None = None
    config_present: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def unit(self, name: str) -> UnitFacts | None:
        return self.units.get(name)
