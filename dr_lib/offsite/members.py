"""An archive as a directory of its members and back: what restic stores, so hourly copies dedup.

A tar.gz changes completely when one object changes (and its bytes differ even for equal
content written at another time), so restic would store every hourly archive whole. Stored as
its members (``manifest.json``, ``resources/*.yaml``, ``datastore/*``, the data repository's
key and any in-archive data members of format v1) unchanged kinds cost nothing and changed ones
only their changed chunks (repository data travels as its own snapshots: ``datacopy``). The
archive is rebuilt with the archive writer, which is deterministic (fixed mtimes, owner,
order, compression level): for archives this tool wrote, the rebuilt file is byte-identical.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import create_private, os_problem
from dr_lib.archive.manifest import Manifest, parse_manifest
from dr_lib.archive.reader import check_member_name, copy_member, open_archive
from dr_lib.archive.writer import write_archive
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
    (directory / fmt.MANIFEST_MEMBER).write_bytes(manifest.to_json())
    (directory / fmt.MANIFEST_MEMBER).chmod(0o600)
    return manifest


def rebuild_archive(members: Path, directory: Path) -> Path:
    """The archive whose members are the files under ``members``, written atomically into ``directory``."""
    try:
        manifest = parse_manifest((members / fmt.MANIFEST_MEMBER).read_bytes())
    except OSError as exc:
        raise IntegrityError(f"the restored copy has no readable {fmt.MANIFEST_MEMBER}: {exc.strerror}") from None
    sources: dict[str, Path] = {}
    for member in manifest.member_paths():
        check_member_name(member)
        source = members / member
        if not source.is_file() or source.is_symlink():
            raise IntegrityError(f"the restored copy lacks member {member!r} named in its manifest")
        sources[member] = source
    return write_archive(directory, manifest, sources)
