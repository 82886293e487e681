"""Application data members: hook dumps and volume copies, after the resources and the datastore.

An archive may carry ``data/...`` members (format v1, optional): a database dump a backup hook
streamed out of a pod (``data/hooks/<namespace>/<pod>/<hook>.dump``) or the copy of a volume's
directory (``data/volumes/<namespace>/<name>.tar``, an uncompressed tar inside the compressed
archive). The manifest lists them under ``data`` with size, sha256 and ``meta`` — what a
restore needs to put them back (namespace, pod, volume, node path, preset…), never a secret.
``data_failures`` says what a backup could not capture (on-error=continue) and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.archive.format import shown
from dr_lib.errors import IntegrityError

DATA_DIR = "data"
HOOK_DUMP = "hook-dump"
VOLUME = "volume"
DATA_KINDS = (HOOK_DUMP, VOLUME)

# Lower-case Kubernetes names only: no "..", no empty or hidden components, no absolute path.
_DATA_MEMBER = re.compile(r"^data/(hooks|volumes)(/[a-z0-9][a-z0-9._-]{0,252}){1,3}\.(dump|tar|zfs)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_data_member(path: str) -> bool:
    return _DATA_MEMBER.match(path) is not None and "/../" not in path and ".." not in path.split("/")


def hook_member(namespace: str, pod: str, hook: str) -> str:
    return f"{DATA_DIR}/hooks/{namespace}/{pod}/{hook}.dump"


def volume_member(namespace: str, name: str, suffix: str = "tar") -> str:
    return f"{DATA_DIR}/volumes/{namespace}/{name}.{suffix}"


@dataclass(frozen=True)
class DataEntry:
    """One ``data/...`` member: what it is, its size and checksum, and how to put it back."""

    path: str
    kind: str  # HOOK_DUMP | VOLUME
    bytes: int
    sha256: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "bytes": self.bytes, "sha256": self.sha256,
                "meta": dict(self.meta)}


def data_entry_from_dict(data: Any, index: int) -> DataEntry:
    where = f"manifest field data[{index}]"
    if not isinstance(data, Mapping):
        raise IntegrityError(f"{where} is {type(data).__name__}: expected an object")
    path, kind, size, sha, meta = (data.get(k) for k in ("path", "kind", "bytes", "sha256", "meta"))
    if not isinstance(path, str) or not is_data_member(path):
        raise IntegrityError(f"{where}.path is {shown(path)}: expected data/hooks/<ns>/<pod>/<hook>.dump or "
                             "data/volumes/<ns>/<name>.tar|.zfs with lower-case names")
    if kind not in DATA_KINDS:
        raise IntegrityError(f"{where}.kind is {shown(kind)}: expected one of {', '.join(DATA_KINDS)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise IntegrityError(f"{where}.bytes is {shown(size)}: expected a count ≥ 0")
    if not isinstance(sha, str) or _SHA256.match(sha) is None:
        raise IntegrityError(f"{where}.sha256 is {shown(sha)}: expected 64 lower-case hex digits")
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise IntegrityError(f"{where}.meta is {type(meta).__name__}: expected an object")
    return DataEntry(path, kind, size, sha, dict(meta))


def data_from_manifest(data: Mapping[str, Any]) -> tuple[tuple[DataEntry, ...], tuple[str, ...]]:
    """The optional ``data`` and ``data_failures`` fields (absent in archives without application data)."""
    raw = data.get("data", [])
    if not isinstance(raw, list):
        raise IntegrityError(f"manifest field data is {type(raw).__name__}: expected a list")
    failures = data.get("data_failures", [])
    if not isinstance(failures, list) or not all(isinstance(f, str) for f in failures):
        raise IntegrityError("manifest field data_failures: expected a list of strings")
    return tuple(data_entry_from_dict(item, i) for i, item in enumerate(raw)), tuple(failures)


def data_to_manifest(entries: tuple[DataEntry, ...], failures: tuple[str, ...]) -> dict[str, Any]:
    """The manifest fields, present only when there is something to say (older readers see no change)."""
    out: dict[str, Any] = {}
    if entries:
        out["data"] = [entry.to_dict() for entry in entries]
    if failures:
        out["data_failures"] = list(failures)
    return out


@dataclass(frozen=True)
class CollectedData:
    """What a data collector (hooks, volume copies) hands a backup: spooled members and a report.

    ``members`` pairs each manifest entry with the spooled file holding its bytes; ``report`` is
    JSON for the backup's result (hooks run, failures, the consistency mode) with no secret in it.
    """

    members: tuple[tuple[DataEntry, Path], ...] = ()  # (entry, the spooled file)
    failures: tuple[str, ...] = ()
    report: Mapping[str, Any] = field(default_factory=dict)

    @property
    def entries(self) -> tuple[DataEntry, ...]:
        return tuple(entry for entry, _path in self.members)

    @property
    def partial(self) -> bool:
        return bool(self.failures)
