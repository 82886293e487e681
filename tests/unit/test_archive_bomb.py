"""The gzip-bomb limit judged on the archive's structure: a large compressible dump (declared, and
bounded by its declared size and sha256) is no bomb; an expansion nothing declares still is."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path
from typing import IO

import pytest
from _archive_factory import (
    CONFIGMAPS,
    IDENTITY,
    Member,
    manifest_dict,
    manifest_member,
    raw_archive,
    resources_member,
    sha,
)

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.dataentry import HOOK_DUMP, DataEntry
from dr_lib.archive.datamembers import read_data_members
from dr_lib.archive.manifest import FileEntry, Manifest
from dr_lib.archive.writer import Spool, write_archive
from dr_lib.errors import IntegrityError

DUMP = "data/hooks/shop/db-0/postgresql.dump"
BIG = 70 * 1024 * 1024  # past RATIO_CHECK_AFTER_BYTES (64 MiB), as the zero-filled dump


def _zeros(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: the test costs no disk
    return path


def _written_archive(tmp_path: Path, dump_size: int) -> Path:
    """An archive as a backup writes it (the real writer, gzip level 1): one ConfigMap, one zero-filled dump."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool = Spool(spool_dir / "cm")
    spool.write_objects([CONFIGMAPS.obj("a")])
    summary = spool.close()
    resources = fmt.resource_member("", "configmaps")
    dump = _zeros(spool_dir / "dump", dump_size)
    digest = hashlib.sha256()
    with dump.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    manifest = Manifest(tool_version="0.1.0", created="2026-11-28T10:00:00Z", cluster=IDENTITY,
                        files=(FileEntry(resources, "", "v1", "configmaps", "ConfigMap", True, 1, summary.bytes,
                                         summary.sha256),),
                        data=(DataEntry(DUMP, HOOK_DUMP, dump_size, digest.hexdigest(), {"namespace": "shop"}),))
    return write_archive(tmp_path, manifest, {resources: summary.path, DUMP: dump})


def test_a_zero_filled_dump_past_the_ratio_limit_is_no_bomb(tmp_path: Path) -> None:
    archive = _written_archive(tmp_path, BIG)
    assert BIG / archive.stat().st_size > fmt.MAX_COMPRESSION_RATIO  # it does expand like a bomb would
    verified = verify_archive(archive)
    assert verified.manifest.data[0].bytes == BIG
    seen: list[int] = []

    def handler(_entry: DataEntry, stream: IO[bytes]) -> None:
        seen.append(sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b"")))

    read_data_members(archive, handler)
    assert seen == [BIG]


def _data_entry(size: int, data: bytes = b"") -> dict[str, object]:
    return {"path": DUMP, "kind": HOOK_DUMP, "bytes": size, "sha256": sha(data), "meta": {}}


def test_a_member_whose_header_passes_its_declared_size_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """The header claims 1 GiB where the manifest declares 10 bytes, and the stream ends right after the header:
    had the reader read a byte of the member it would have failed on the truncation instead."""
    entry, member = resources_member(CONFIGMAPS, [CONFIGMAPS.obj("a")])
    manifest = manifest_member(manifest_dict([entry], data=[_data_entry(10)]))
    blocks = b""
    for item in (manifest, member):
        info = tarfile.TarInfo(item.name)
        info.size = len(item.data)
        blocks += info.tobuf(tarfile.GNU_FORMAT) + item.data + bytes(-len(item.data) % tarfile.BLOCKSIZE)
    header = tarfile.TarInfo(DUMP)
    header.size = 1 << 30
    path = tmp_path / "lie.tar.gz"
    path.write_bytes(gzip.compress(blocks + header.tobuf(tarfile.GNU_FORMAT)))
    with pytest.raises(IntegrityError, match=rf"member '{DUMP}': its tar header says {1 << 30} bytes, the manifest "
                                             "says 10"):
        verify_archive(path)


def test_a_resources_bomb_is_refused_in_an_archive_with_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data members' exemption covers them alone: zeros in a resources member still count."""
    monkeypatch.setattr(fmt, "RATIO_CHECK_AFTER_BYTES", 1024 * 1024)
    zeros = bytes(8 * 1024 * 1024)
    entry, _ = resources_member(CONFIGMAPS, [])
    entry.update(bytes=len(zeros), sha256=sha(zeros))
    dump = b"PGDMP" + bytes(range(256))
    path = raw_archive(tmp_path / "bomb.tar.gz", [
        manifest_member(manifest_dict([entry], data=[_data_entry(len(dump), dump)])),
        Member(entry["path"], zeros), Member(DUMP, dump)])
    with pytest.raises(IntegrityError, match="refusing a likely gzip bomb"):
        verify_archive(path)


def test_zeros_after_the_tar_end_are_judged_without_the_dumps_allowance(tmp_path: Path) -> None:
    """A large declared dump must not lend its expansion to bytes nothing declares."""
    entry, member = resources_member(CONFIGMAPS, [CONFIGMAPS.obj("a")])
    dump = bytes(BIG)
    path = raw_archive(tmp_path / "trailing.tar.gz", [
        manifest_member(manifest_dict([entry], data=[_data_entry(len(dump), dump)])), member, Member(DUMP, dump)],
        trailing=gzip.compress(bytes(BIG)))
    with pytest.raises(IntegrityError, match="refusing a likely gzip bomb"):
        verify_archive(path)
    clean = raw_archive(tmp_path / "clean.tar.gz", [
        manifest_member(manifest_dict([entry], data=[_data_entry(len(dump), dump)])), member, Member(DUMP, dump)])
    assert verify_archive(clean).manifest.data[0].bytes == BIG


def test_the_manifest_declares_every_size_a_reader_checks(tmp_path: Path) -> None:
    """A resources member whose header disagrees with the manifest is refused at the header, too."""
    entry, member = resources_member(CONFIGMAPS, [CONFIGMAPS.obj("a")])
    path = raw_archive(tmp_path / "size.tar.gz", [manifest_member(manifest_dict([entry])),
                                                   Member(member.name, member.data + b"\n")])
    with pytest.raises(IntegrityError, match=r"its tar header says \d+ bytes, the manifest says"):
        verify_archive(path)
