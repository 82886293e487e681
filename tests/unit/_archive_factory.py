"""Build real archives for tests: good ones through the real writer, hostile ones by hand."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.documents import encode_documents, iter_documents
from dr_lib.archive.manifest import ClusterIdentity, DatastoreEntry, FileEntry, Manifest
from dr_lib.archive.writer import Spool, archive_head, write_archive
from dr_lib.signing.keys import SigningKey
from dr_lib.signing.verify import sign

CREATED = "2026-11-28T10:00:00Z"
IDENTITY = ClusterIdentity("https://127.0.0.1:6443", "v1.34.2", "11111111-2222-3333-4444-555555555555")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    def obj(self, name: str, namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name}
        if self.namespaced and namespace:
            metadata["namespace"] = namespace
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata, **extra}


CONFIGMAPS = Kind("", "v1", "configmaps", "ConfigMap")
DEPLOYMENTS = Kind("apps", "v1", "deployments", "Deployment")
NAMESPACES = Kind("", "v1", "namespaces", "Namespace", namespaced=False)
WIDGETS = Kind("example.com", "v1", "widgets", "Widget")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def good_archive(directory: Path, content: dict[Kind, list[dict[str, Any]]], *, created: str = CREATED,
                 datastore: tuple[bytes, bytes] | None = None,
                 user_objects: dict[Kind, int] | None = None, rules: int | None = None,
                 signer: SigningKey | None = None) -> Path:
    """An archive written by the real writer; ``datastore`` is (sqlite bytes, token bytes); signed by
    ``signer`` as a backup signs it.

    ``user_objects`` records per-kind user-object counts (what a backup writes) counted by rules
    version ``rules``; without it the manifest counts none, as before k3s-dr counted them.
    """
    spool_dir = directory / ".spool-test"
    spool_dir.mkdir(exist_ok=True)
    files, sources = [], {}
    for kind, objects in content.items():
        spool = Spool(spool_dir / f"{kind.plural}.{kind.group}")
        spool.write_objects(objects)
        summary = spool.close()
        path = fmt.resource_member(kind.group, kind.plural)
        files.append(FileEntry(path, kind.group, kind.version, kind.plural, kind.kind, kind.namespaced,
                               summary.objects, summary.bytes, summary.sha256,
                               None if user_objects is None else user_objects.get(kind, 0)))
        sources[path] = summary.path
    entry = None
    if datastore is not None:
        db, token = datastore
        (spool_dir / "db").write_bytes(db)
        (spool_dir / "token").write_bytes(token)
        sources[fmt.SQLITE_MEMBER] = spool_dir / "db"
        sources[fmt.TOKEN_MEMBER] = spool_dir / "token"
        entry = DatastoreEntry("sqlite", fmt.SQLITE_MEMBER, fmt.TOKEN_MEMBER, sha(db), len(db), sha(token), len(token))
    manifest = Manifest(tool_version="0.1.0", created=created, cluster=IDENTITY, files=tuple(files), datastore=entry,
                        scope={"kinds": "test"}, user_objects_rules=rules)
    sign_with = None if signer is None else partial(sign, key=signer, signed=fmt.MANIFEST_MEMBER)
    path = write_archive(directory, manifest, sources, head=archive_head(manifest, sign_with))
    for leftover in spool_dir.iterdir():
        leftover.unlink()
    spool_dir.rmdir()
    return path


@dataclass
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    size: int | None = None  # None: len(data)


def resources_member(kind: Kind, objects: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], Member]:
    """A file entry (as manifest JSON) and its member, consistent with each other."""
    data = encode_documents(objects)
    path = fmt.resource_member(kind.group, kind.plural)
    entry = {"path": path, "group": kind.group, "version": kind.version, "plural": kind.plural, "kind": kind.kind,
             "namespaced": kind.namespaced, "objects": len(objects), "bytes": len(data), "sha256": sha(data)}
    return entry, Member(path, data)


def manifest_dict(files: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": fmt.FORMAT_NAME, "format_version": fmt.BASE_FORMAT_VERSION, "tool_version": "0.1.0",
        "created": CREATED, "cluster": IDENTITY.to_dict(), "files": files,
        "objects": sum(f["objects"] for f in files), "datastore": None, "scope": {},
    }
    data.update(overrides)
    return data


def raw_archive(path: Path, members: Sequence[Member], *, trailing: bytes = b"") -> Path:
    """A tar.gz with exactly these members, however hostile."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.linkname
            info.size = len(member.data) if member.size is None else member.size
            tar.addfile(info, io.BytesIO(member.data) if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else None)
    path.write_bytes(gzip.compress(buffer.getvalue()) + trailing)
    return path


def manifest_member(data: dict[str, Any]) -> Member:
    return Member(fmt.MANIFEST_MEMBER, json.dumps(data).encode())


def archive_members(path: Path) -> list[tuple[str, bytes]]:
    """Every member of one of our (benign) archives, in order."""
    with tarfile.open(path, "r:gz") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def write_members(path: Path, members: Sequence[tuple[str, bytes]]) -> Path:
    """A tar.gz of exactly these members, written as our writer writes (pax, regular files)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))
    path.chmod(0o600)
    return path


def forge(path: Path, target: Path | None = None, *, value: str = "forged") -> Path:
    """What someone who can write the archive but holds no signing key makes of it: one object changed (the
    first object's ``data`` replaced), every sha256 and size recomputed, the old signature member kept."""
    members = archive_members(path)
    manifest = json.loads(members[0][1])
    entry = next(e for e in manifest["files"] if e["objects"] > 0)
    index = next(i for i, (name, _) in enumerate(members) if name == entry["path"])
    objects = [json.loads(doc) for doc in iter_documents(io.BytesIO(members[index][1]), where="forge")]
    objects[0]["data"] = {"forged": value}
    data = encode_documents(objects)
    members[index] = (entry["path"], data)
    entry["bytes"], entry["sha256"] = len(data), sha(data)
    members[0] = (fmt.MANIFEST_MEMBER, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return write_members(target or path, members)


def tar_header(name: bytes, size: int, kind: bytes) -> bytes:
    """One raw tar header block (GNU magic) of ``kind`` for ``name``, announcing ``size`` bytes of payload,
    its checksum right: the start of archives built to hurt (a huge long name, a huge pax header)."""
    block = bytearray(512)
    block[:len(name)] = name
    block[100:108] = b"0000600\0"
    block[124:136] = f"{size:011o}\0".encode()
    block[156:157] = kind
    block[257:265] = b"ustar  \0"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)
