"""verify_archive, read_manifest, iter_archive_objects, extract_datastore on real and hostile files."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

import pytest
import yaml
from _archive_factory import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    WIDGETS,
    Member,
    good_archive,
    manifest_dict,
    manifest_member,
    raw_archive,
    resources_member,
    sha,
)

from dr_lib.archive import (
    extract_datastore,
    iter_archive_objects,
    object_counts,
    read_manifest,
    verify_archive,
)
from dr_lib.archive import format as fmt
from dr_lib.errors import IntegrityError

CONTENT = {
    NAMESPACES: [NAMESPACES.obj("default"), NAMESPACES.obj("app")],
    CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}", "app", data={"k": "v" * i}) for i in range(50)],
    DEPLOYMENTS: [DEPLOYMENTS.obj("web", "app", spec={"replicas": 2})],
    WIDGETS: [WIDGETS.obj("w1", "app", spec={"size": 3})],
}


def test_a_written_archive_verifies_and_streams_every_object_in_manifest_order(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    result = verify_archive(path)
    assert result.objects == 54
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.bytes == path.stat().st_size
    assert object_counts(result.manifest) == {"namespaces": 2, "configmaps": 50, "deployments.apps": 1,
                                              "widgets.example.com": 1}
    streamed = list(iter_archive_objects(path))
    assert [obj for _, obj in streamed] == [obj for objects in CONTENT.values() for obj in objects]
    assert {entry.kind for entry, _ in streamed} == {"Namespace", "ConfigMap", "Deployment", "Widget"}
    assert read_manifest(path) == result.manifest


def test_layout_is_the_contract_manifest_first_and_files_readable_by_yaml(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    assert path.name == "k3s-dr-20261128T100000Z.tar.gz"
    assert path.stat().st_mode & 0o777 == 0o600
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names == ["manifest.json", "resources/namespaces.yaml", "resources/configmaps.yaml",
                         "resources/deployments.apps.yaml", "resources/widgets.example.com.yaml"]
        widgets = tar.extractfile("resources/widgets.example.com.yaml").read()  # type: ignore[union-attr]
        assert all(m.mode == 0o600 for m in tar.getmembers())
    assert list(yaml.safe_load_all(widgets)) == CONTENT[WIDGETS]


def test_datastore_members_are_verified_and_extracted(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT, datastore=(b"SQLite format 3\0" + b"x" * 5000, b"K10secret::server:abc\n"))
    result = verify_archive(path)
    assert result.manifest.datastore is not None and result.manifest.datastore.kind == "sqlite"
    out = tmp_path / "out"
    out.mkdir()
    files = extract_datastore(path, out)
    assert files is not None
    assert files.snapshot.read_bytes().startswith(b"SQLite format 3")
    assert files.token.read_bytes() == b"K10secret::server:abc\n"
    assert files.token.stat().st_mode & 0o777 == 0o600
    (tmp_path / "plain").mkdir()
    assert extract_datastore(good_archive(tmp_path / "plain", CONTENT), out) is None


def _hostile(tmp_path: Path, members: list[Member], **kw: bytes) -> Path:
    return raw_archive(tmp_path / "bad.tar.gz", members, **kw)


def _valid_members() -> tuple[dict, list[Member]]:  # type: ignore[type-arg]
    cm_entry, cm_member = resources_member(CONFIGMAPS, CONTENT[CONFIGMAPS])
    dep_entry, dep_member = resources_member(DEPLOYMENTS, CONTENT[DEPLOYMENTS])
    manifest = manifest_dict([cm_entry, dep_entry])
    return manifest, [manifest_member(manifest), cm_member, dep_member]


def test_the_hand_built_baseline_is_valid(tmp_path: Path) -> None:
    _, members = _valid_members()
    assert verify_archive(_hostile(tmp_path, members)).objects == 51


@pytest.mark.parametrize(("change", "reason"), [
    (lambda m: m.insert(1, Member("/etc/cron.d/evil", b"x")), "absolute"),
    (lambda m: m.insert(1, Member("resources/../../evil", b"x")), r"'\.\.'"),
    (lambda m: m.insert(1, Member("resources/link.yaml", type=tarfile.SYMTYPE, linkname="/etc/shadow")),
     "symbolic link to '/etc/shadow'"),
    (lambda m: m.insert(1, Member("resources/hard.yaml", type=tarfile.LNKTYPE, linkname="manifest.json")),
     "hard link"),
    (lambda m: m.insert(1, Member("resources/dev.yaml", type=tarfile.CHRTYPE)), "device"),
    (lambda m: m.insert(1, Member("resources/fifo.yaml", type=tarfile.FIFOTYPE)), "device or FIFO"),
    (lambda m: m.insert(1, Member("resources", type=tarfile.DIRTYPE)), "directory"),
    (lambda m: m.append(Member("resources/extra.yaml", b"---\n{}\n")), "not in the manifest"),
    (lambda m: m.pop(), "is missing"),
    (lambda m: m.insert(1, m.pop(2)), "found where the manifest expects 'resources/configmaps.yaml'"),
    (lambda m: m.pop(0), "found where the manifest expects 'manifest.json'"),
    (lambda m: m.insert(2, Member("resources/configmaps.yaml", b"x"))
     , "found where the manifest expects 'resources/deployments.apps.yaml'"),
])
def test_hostile_structure_is_refused(tmp_path: Path, change, reason: str) -> None:  # type: ignore[no-untyped-def]
    _, members = _valid_members()
    change(members)
    with pytest.raises(IntegrityError, match=reason):
        verify_archive(_hostile(tmp_path, members))


def _with_resources(tmp_path: Path, data: bytes, *, objects: int = 1, declared: bytes | None = None) -> Path:
    entry, _ = resources_member(CONFIGMAPS, [])
    declared = data if declared is None else declared
    entry.update(objects=objects, bytes=len(declared), sha256=sha(declared))
    manifest = manifest_dict([entry])
    return _hostile(tmp_path, [manifest_member(manifest), Member(entry["path"], data)])


def test_a_changed_byte_fails_the_checksum(tmp_path: Path) -> None:
    good = b'---\n{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}\n'
    changed = good.replace(b'"1"', b'"2"')
    with pytest.raises(IntegrityError, match="sha256 differs"):
        verify_archive(_with_resources(tmp_path, changed, declared=good))


@pytest.mark.parametrize(("data", "objects", "reason"), [
    (b'---\n{"apiVersion": "v1", "kind": "ConfigMap"}\n', 2, "holds 1 objects, the manifest says 2"),
    (b'---\n{"apiVersion": "v1", "kind": "ConfigMap"\n', 1, "does not parse"),
    (b'---\n{"apiVersion": "v1", "kind": "Secret"}\n', 1, "is v1 Secret, the manifest says v1 ConfigMap"),
    (b'---\n{"apiVersion": "apps/v1", "kind": "ConfigMap"}\n', 1, "is apps/v1 ConfigMap"),
    (b'---\n{"kind": "ConfigMap"}\n', 1, "no apiVersion/kind"),
])
def test_lying_counts_and_unparsable_documents_are_refused(tmp_path: Path, data: bytes, objects: int,
                                                           reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        verify_archive(_with_resources(tmp_path, data, objects=objects))


def test_a_size_lie_is_refused(tmp_path: Path) -> None:
    data = b'---\n{"apiVersion": "v1", "kind": "ConfigMap"}\n'
    with pytest.raises(IntegrityError, match="bytes, the manifest says"):
        verify_archive(_with_resources(tmp_path, data, declared=data + b"\n"))


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    manifest, members = _valid_members()
    manifest["format_version"] = 3
    members[0] = manifest_member(manifest)
    with pytest.raises(IntegrityError, match="format_version is 3"):
        verify_archive(_hostile(tmp_path, members))


def test_a_gzip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "RATIO_CHECK_AFTER_BYTES", 1024 * 1024)
    zeros = b"\0" * (8 * 1024 * 1024)
    entry, _ = resources_member(CONFIGMAPS, [])
    entry.update(bytes=len(zeros), sha256=sha(zeros))
    path = _hostile(tmp_path, [manifest_member(manifest_dict([entry])), Member(entry["path"], zeros)])
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(IntegrityError, match="gzip bomb"):
        verify_archive(path)


def test_an_oversized_manifest_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "MAX_MANIFEST_BYTES", 100)
    _, members = _valid_members()
    with pytest.raises(IntegrityError, match=r"manifest.json is .* bytes; the limit is 100"):
        verify_archive(_hostile(tmp_path, members))


@pytest.mark.parametrize("cut", [10, 100, -30, -8])
def test_truncated_archives_are_refused(tmp_path: Path, cut: int) -> None:
    path = good_archive(tmp_path, CONTENT)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(IntegrityError):
        verify_archive(path)


def test_a_flipped_compressed_byte_is_refused(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        verify_archive(path)


def test_trailing_garbage_after_the_gzip_stream_is_refused(tmp_path: Path) -> None:
    _, members = _valid_members()
    with pytest.raises(IntegrityError, match=r"not a readable tar\.gz"):
        verify_archive(_hostile(tmp_path, members, trailing=b"MALWARE!"))


def test_data_after_the_tar_end_is_refused(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw + b"\x01" * 512))
    with pytest.raises(IntegrityError, match="after the end of the tar archive"):
        verify_archive(path)


@pytest.mark.parametrize("content", [b"", b"not gzip at all", gzip.compress(b"not a tar")])
def test_non_archives_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(IntegrityError):
        verify_archive(path)


def test_missing_file_and_dangling_link_are_integrity_errors(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="cannot be read"):
        verify_archive(tmp_path / "missing.tar.gz")
    (tmp_path / "link.tar.gz").symlink_to("gone.tar.gz")
    with pytest.raises(IntegrityError, match="does not exist"):
        verify_archive(tmp_path / "link.tar.gz")


def test_an_empty_token_makes_the_datastore_unusable(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT, datastore=(b"db", b""))
    with pytest.raises(IntegrityError, match="token is empty"):
        verify_archive(path)
