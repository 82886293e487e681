"""An archive as a directory of its members and back: what restic stores, so hourly copies dedup.

A tar.gz changes completely when one object changes (and its bytes differ even for equal
content written at another time), so restic would store every hourly archive whole. Stored as
its members (``manifest.json``, ``resources/*.yaml``, ``datastore/*``, the data repository's
key and any in-archive data members of format v1) unchanged kinds cost nothing and changed ones
only their changed chunks (repository data travels as its own snapshots: ``datacopy``). The
archive is rebuilt with the archive writer, which is deterministic (fixed mtimes, owner,
order, compression level): for archives this tool wrote, the rebuilt file is byte-identical.
The manifest is stored as the bytes the archive held and its signature (``manifest.json.sig``)
beside it, so a signed archive comes back signed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import create_private, os_problem
from dr_lib.archive.manifest import Manifest, parse_manifest
from dr_lib.archive.reader import check_member_name, copy_member, open_archive
from dr_lib.archive.writer import ArchiveHead, write_archive
from dr_lib.errors import IntegrityError


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def extract_members(archive: Path, directory: Path) -> Manifest:
    """Write every member of ``archive`` under ``directory`` (emptied first), each checked on the way."""
    if directory.exists():
        shutil.rmtree(directory)
    _private_dir(directory)
    with open_archive(archive) as stream:
        manifest = stream.read_manifest()
        members = [(e.path, e.bytes, e.sha256) for e in manifest.files]
        if manifest.datastore is not None:
            store = manifest.datastore
            members += [(store.path, store.bytes, store.sha256), (store.token_path, store.token_bytes,
                                                                  store.token_sha256)]
        if manifest.data_repository is not None:
            key = manifest.data_repository
            members.append((key.key_path, key.key_bytes, key.key_sha256))
        members += [(d.path, d.bytes, d.sha256) for d in manifest.data if d.in_archive]
        for member, size, sha256 in members:
            target = directory / member
            _private_dir(target.parent)
            try:
                with os.fdopen(create_private(target), "wb") as out:
                    copy_member(stream, member, size, sha256, out)
            except OSError as exc:
                raise os_problem(exc, "write", target) from None
        stream.finish()
    _write_head(directory, stream.manifest_bytes, stream.signature_bytes)
    return manifest


def _write_head(directory: Path, manifest: bytes, signature: bytes | None) -> None:
    for name, data in ((fmt.MANIFEST_MEMBER, manifest), (fmt.SIGNATURE_MEMBER, signature)):
        if data is not None:
            (directory / name).write_bytes(data)
            (directory / name).chmod(0o600)


def _read_head(members: Path) -> ArchiveHead:
    """The stored manifest's bytes and its signature, if any (bounded: a restored copy is untrusted)."""
    parts: dict[str, bytes | None] = {}
    for name, limit in ((fmt.MANIFEST_MEMBER, fmt.MAX_MANIFEST_BYTES), (fmt.SIGNATURE_MEMBER, fmt.MAX_SIGNATURE_BYTES)):
        path = members / name
        if name == fmt.SIGNATURE_MEMBER and not (path.exists() or path.is_symlink()):
            parts[name] = None
            continue
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            raise IntegrityError(f"the restored copy's {name} is not a regular file of at most {limit} bytes")
        parts[name] = path.read_bytes()
    return ArchiveHead(parts[fmt.MANIFEST_MEMBER] or b"", parts[fmt.SIGNATURE_MEMBER])


def rebuild_archive(members: Path, directory: Path) -> Path:
    """The archive whose members are the files under ``members``, written atomically into ``directory``."""
    try:
        head = _read_head(members)
    except OSError as exc:
        raise IntegrityError(f"the restored copy has no readable {fmt.MANIFEST_MEMBER}: {exc.strerror}") from None
    manifest = parse_manifest(head.manifest)
    sources: dict[str, Path] = {}
    for member in manifest.member_paths():
        check_member_name(member)
        source = members / member
        if not source.is_file() or source.is_symlink():
            raise IntegrityError(f"the restored copy lacks member {member!r} named in its manifest")
        sources[member] = source
    return write_archive(directory, manifest, sources, head=head)
