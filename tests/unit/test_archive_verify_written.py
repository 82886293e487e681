"""verify_written: a backup's own archive, verified against the writer's hashes (issue 19).

It must reach the same verdict as :func:`verify_archive` on a good archive, and refuse what a
broken disk, file system or spool would leave: other bytes read back than were written, a
spool file changed between its hashing and its copy, a file cut short.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from _archive_factory import CONFIGMAPS, CREATED, IDENTITY, NAMESPACES, Kind

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive, verify_written
from dr_lib.archive.manifest import DatastoreEntry, FileEntry, Manifest
from dr_lib.archive.userobjects import RULES_VERSION, count_user_objects
from dr_lib.archive.writer import Spool, WrittenArchive, write_archive_hashed
from dr_lib.errors import IntegrityError


def _write(directory: Path, *, change_spool: bool = False,
           datastore: tuple[bytes, bytes] | None = None) -> tuple[WrittenArchive, Manifest]:
    content: dict[Kind, list[dict[str, object]]] = {
        NAMESPACES: [NAMESPACES.obj(n, None) for n in ("default", "shop")],
        CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}", "shop", data={"k": "v" * i}) for i in range(50)]
        + [CONFIGMAPS.obj("kube-root-ca.crt", "shop")],
    }
    spool_dir = directory / "spool"
    spool_dir.mkdir()
    files, sources = [], {}
    for kind, objects in content.items():
        spool = Spool(spool_dir / kind.plural)
        spool.write_objects(objects)
        summary = spool.close()
        member = fmt.resource_member(kind.group, kind.plural)
        files.append(FileEntry(member, kind.group, kind.version, kind.plural, kind.kind, kind.namespaced,
                               summary.objects, summary.bytes, summary.sha256,
                               count_user_objects(kind.plural, objects)))
        sources[member] = summary.path
    entry = None
    if datastore is not None:
        (spool_dir / "db").write_bytes(datastore[0])
        (spool_dir / "token").write_bytes(datastore[1])
        sources[fmt.SQLITE_MEMBER], sources[fmt.TOKEN_MEMBER] = spool_dir / "db", spool_dir / "token"
        entry = DatastoreEntry("sqlite", fmt.SQLITE_MEMBER, fmt.TOKEN_MEMBER, _sha(datastore[0]), len(datastore[0]),
                               _sha(datastore[1]), len(datastore[1]))
    if change_spool:  # after its hash was taken, before the archive copies it: same size, other bytes
        path = sources[files[1].path]
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x01
        path.write_bytes(bytes(data))
    manifest = Manifest(tool_version="0.1.0", created=CREATED, cluster=IDENTITY, files=tuple(files),
                        datastore=entry, scope={"kinds": "test"}, user_objects_rules=RULES_VERSION)
    return write_archive_hashed(directory, manifest, sources), manifest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_good_archive_gets_the_verdict_the_full_verification_gives(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path, datastore=(b"SQLite format 3\0" + b"x" * 100, b"K10token::server:abc"))
    fast, full = verify_written(written, manifest), verify_archive(written.path)
    assert (fast.path, fast.sha256, fast.bytes, fast.manifest, fast.user_objects) == \
        (full.path, full.sha256, full.bytes, full.manifest, full.user_objects)
    assert fast.user_objects == 51 and fast.objects == 53  # namespaces and kube-root-ca.crt are not the user's


def test_other_bytes_read_back_than_were_written_are_refused(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path)
    data = bytearray(written.path.read_bytes())
    data[4] ^= 0xFF  # the gzip header's mtime: every member still reads right, only the file's hash differs
    written.path.write_bytes(bytes(data))
    verify_archive(written.path)  # the full verification has nothing to say about it
    with pytest.raises(IntegrityError, match=r"read back .* another sha256 than the .* written"):
        verify_written(written, manifest)


def test_a_damaged_member_is_refused(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path)
    size = written.path.stat().st_size
    with written.path.open("r+b") as handle:
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0x55]))
    with pytest.raises(IntegrityError):
        verify_written(written, manifest)


def test_a_spool_changed_after_it_was_hashed_is_refused(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path, change_spool=True)
    with pytest.raises(IntegrityError, match=r"resources/configmaps\.yaml: sha256 differs from the manifest"):
        verify_written(written, manifest)


def test_a_file_cut_short_is_refused(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path)
    os.truncate(written.path, written.bytes - 20)
    with pytest.raises(IntegrityError):
        verify_written(written, manifest)


def test_an_empty_datastore_token_is_refused(tmp_path: Path) -> None:
    written, manifest = _write(tmp_path, datastore=(b"SQLite format 3\0", b""))
    with pytest.raises(IntegrityError, match="is empty; the datastore cannot be used without it"):
        verify_written(written, manifest)
