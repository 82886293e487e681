"""Application data members in the archive: written by the real writer, verified, read back in one pass."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

import pytest
from _archive_factory import CONFIGMAPS, IDENTITY

from dr_lib.archive import format as fmt
from dr_lib.archive.access import read_manifest, read_repository_key, verify_archive
from dr_lib.archive.dataentry import (
    HOOK_DUMP,
    REPOSITORY_KEY_MEMBER,
    VOLUME,
    DataEntry,
    RepositoryRef,
    hook_member,
    is_data_member,
    volume_member,
)
from dr_lib.archive.datamembers import read_data_members
from dr_lib.archive.manifest import FileEntry, Manifest, manifest_from_dict
from dr_lib.archive.writer import Spool, write_archive
from dr_lib.errors import IntegrityError


def configmaps(spool_dir: Path) -> tuple[tuple[FileEntry, ...], dict[str, Path]]:
    """One ConfigMap spooled by the real writer: the files entry and its source."""
    spool_dir.mkdir()
    spool = Spool(spool_dir / "cm")
    spool.write_objects([CONFIGMAPS.obj("a")])
    summary = spool.close()
    path = fmt.resource_member("", "configmaps")
    return (FileEntry(path, "", "v1", "configmaps", "ConfigMap", True, 1, summary.bytes, summary.sha256),), \
        {path: summary.path}


def archive_with_data(tmp_path: Path, dumps: dict[str, bytes], failures: tuple[str, ...] = ()) -> Path:
    spool_dir = tmp_path / "spool"
    files, sources = configmaps(spool_dir)
    entries = []
    for index, (member, data) in enumerate(dumps.items()):
        source = spool_dir / f"d{index}"
        source.write_bytes(data)
        kind = VOLUME if member.startswith("data/volumes/") else HOOK_DUMP
        entries.append(DataEntry(member, kind, len(data), hashlib.sha256(data).hexdigest(),
                                 {"namespace": "shop", "pod": "db-0", "preset": "postgresql"}))
        sources[member] = source
    manifest = Manifest(tool_version="0.1.0", created="2026-11-28T10:00:00Z", cluster=IDENTITY, files=files,
                        data=tuple(entries), data_failures=failures)
    return write_archive(tmp_path, manifest, sources)


def test_member_names() -> None:
    assert hook_member("shop", "db-0", "postgresql") == "data/hooks/shop/db-0/postgresql.dump"
    assert volume_member("shop", "data-db-0") == "data/volumes/shop/data-db-0.dir"
    assert volume_member("shop", "data-db-0", "tar") == "data/volumes/shop/data-db-0.tar"
    for bad in ("data/hooks/../etc/x.dump", "/data/hooks/a/b/c.dump", "data/hooks/A/b/c.dump", "data/x.dump",
                "data/hooks/a/.hidden/c.dump", "data/volumes/a/b.sh", "resources/x.yaml"):
        assert not is_data_member(bad), bad


def test_round_trip_verify_and_read_back(tmp_path: Path) -> None:
    dumps = {"data/hooks/shop/db-0/postgresql.dump": b"PGDMP" + bytes(range(256)) * 100,
             "data/volumes/shop/data-db-0.tar": b"\0" * 10_000}
    archive = archive_with_data(tmp_path, dumps, ("pod shop/x: dump hook failed: exit code 1",))
    verified = verify_archive(archive)
    assert [e.path for e in verified.manifest.data] == list(dumps)
    assert verified.manifest.data_failures == ("pod shop/x: dump hook failed: exit code 1",)
    assert read_manifest(archive).data[0].meta["preset"] == "postgresql"
    seen: dict[str, bytes] = {}

    def handler(entry: DataEntry, stream: IO[bytes]) -> None:
        seen[entry.path] = stream.read()

    read_data_members(archive, handler)
    assert seen == dumps
    only: list[str] = []
    read_data_members(archive, lambda e, _s: only.append(e.path), wanted=lambda e: e.kind == VOLUME)
    assert only == ["data/volumes/shop/data-db-0.tar"]


def test_manifests_without_data_stay_as_they_were(tmp_path: Path) -> None:
    archive = archive_with_data(tmp_path, {})
    raw = json.loads(read_manifest(archive).to_json())
    assert "data" not in raw and "data_failures" not in raw


def test_a_changed_data_member_fails_verification(tmp_path: Path) -> None:
    archive = archive_with_data(tmp_path, {"data/hooks/shop/db-0/postgresql.dump": b"PGDMP-original"})
    manifest = read_manifest(archive)
    raw = json.loads(manifest.to_json())
    raw["data"][0]["sha256"] = "0" * 64
    assert manifest_from_dict(raw).data[0].sha256 == "0" * 64  # parses; the content no longer matches
    # rewrite the archive with the lying manifest through the real writer's checks: refused on read
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    source = bad_dir / "d"
    source.write_bytes(b"PGDMP-original")
    spool = Spool(bad_dir / "cm")
    spool.write_objects([CONFIGMAPS.obj("a")])
    spool.close()
    lying = Manifest(tool_version="0.1.0", created="2026-11-28T10:00:00Z", cluster=IDENTITY,
                     files=manifest.files, data=manifest_from_dict(raw).data)
    bad = write_archive(bad_dir, lying, {manifest.files[0].path: bad_dir / "cm",
                                         "data/hooks/shop/db-0/postgresql.dump": source})
    with pytest.raises(IntegrityError) as caught:
        verify_archive(bad)
    assert "sha256 differs" in str(caught.value)
    with pytest.raises(IntegrityError):
        read_data_members(bad, lambda _e, _s: None)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("path", "data/hooks/../../etc/passwd.dump", "expected data/hooks"),
    ("kind", "script", "expected one of hook-dump, volume"),
    ("bytes", -1, "expected a count"),
    ("sha256", "xyz", "64 lower-case hex"),
    ("meta", [], "expected an object"),
])
def test_hostile_data_entries_are_refused(tmp_path: Path, field: str, value: object, message: str) -> None:
    archive = archive_with_data(tmp_path, {"data/hooks/shop/db-0/postgresql.dump": b"PGDMP"})
    raw = json.loads(read_manifest(archive).to_json())
    raw["data"][0][field] = value
    with pytest.raises(IntegrityError) as caught:
        manifest_from_dict(raw)
    assert message in str(caught.value)


KEY = b"0123456789abcdef" * 4 + b"\n"
STORED = DataEntry("data/volumes/shop/uploads.dir", VOLUME, 300, "c" * 64,
                   {"namespace": "shop", "node_path": "/var/lib/rancher/k3s/storage/pvc-1", "tree_sha256": "c" * 64},
                   "restic", "a" * 64, "b" * 64, "/var/lib/rancher/k3s/storage/pvc-1")


def archive_with_repository_data(tmp_path: Path) -> Path:
    spool_dir = tmp_path / "spool"
    files, sources = configmaps(spool_dir)
    (spool_dir / "key").write_bytes(KEY)
    manifest = Manifest(tool_version="0.1.0", created="2026-11-28T10:00:00Z", cluster=IDENTITY, files=files,
                        data=(STORED,), data_repository=RepositoryRef(hashlib.sha256(KEY).hexdigest(), len(KEY)))
    return write_archive(tmp_path, manifest, {**sources, REPOSITORY_KEY_MEMBER: spool_dir / "key"})


def test_repository_data_makes_format_2_and_carries_its_key(tmp_path: Path) -> None:
    archive = archive_with_repository_data(tmp_path)
    verified = verify_archive(archive)
    assert verified.manifest.format_version == 2 and verified.manifest.stored_data == (STORED,)
    assert read_repository_key(archive) == KEY
    raw = json.loads(read_manifest(archive).to_json())
    assert raw["data_repository"]["key_path"] == "data/repository.key" and raw["data"][0]["store"] == "restic"
    read_data_members(archive, lambda _e, _s: pytest.fail("no in-archive member to read"))


def test_archives_without_repository_data_stay_format_1(tmp_path: Path) -> None:
    archive = archive_with_data(tmp_path, {"data/hooks/shop/db-0/postgresql.dump": b"PGDMP"})
    assert json.loads(read_manifest(archive).to_json())["format_version"] == 1


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["data"][0].update(store="nfs"), "store is 'nfs'"),
    (lambda m: m["data"][0].update(snapshot="latest"), "snapshot is 'latest'"),
    (lambda m: m["data"][0].pop("tree"), "tree is None"),
    (lambda m: m["data"][0].update(source="var/lib/x"), "source is 'var/lib/x'"),
    (lambda m: m["data"][0].update(source="/var/lib/../../etc"), "plain absolute path"),
    (lambda m: m["data"][0].update(path="data/volumes/shop/uploads.tar"), "expected data/hooks"),
    (lambda m: m.pop("data_repository"), "no data_repository"),
    (lambda m: m.update(format_version=1), "content is that of version 2"),
    (lambda m: m["data_repository"].update(key_bytes=10**9), "key_bytes"),
    (lambda m: m["data_repository"].update(key_path="../../key"), "expected 'restic' with 'data/repository.key'"),
    (lambda m: m.update(format_version=3), "reads versions 1 and 2"),
])
def test_hostile_repository_references_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    raw = json.loads(read_manifest(archive_with_repository_data(tmp_path)).to_json())
    change(raw)
    with pytest.raises(IntegrityError) as caught:
        manifest_from_dict(raw)
    assert message in str(caught.value)


def test_a_version_1_manifest_with_a_repository_is_refused(tmp_path: Path) -> None:
    raw = json.loads(read_manifest(archive_with_data(tmp_path, {})).to_json())
    raw["data_repository"] = {"engine": "restic", "key_path": "data/repository.key", "key_sha256": "a" * 64,
                              "key_bytes": 65}
    with pytest.raises(IntegrityError, match="content is that of version 2"):
        manifest_from_dict(raw)
