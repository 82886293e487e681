"""Hostile tar headers and manifests end in one IntegrityError line (exit 8), never a traceback or exit 1,
and are refused from the header before any payload is read (dr_lib.archive.tarstream, manifest parsing).

The memory bound itself (a real 200 MiB long name, peak RSS of ``k3s-dr verify``) is measured in
tests/integration/test_archive_hostile_memory.py."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from _archive_factory import (
    CONFIGMAPS,
    WIDGETS,
    Kind,
    Member,
    good_archive,
    manifest_dict,
    manifest_member,
    raw_archive,
    resources_member,
)

from dr_lib.archive import verify_archive
from dr_lib.archive.tarstream import MAX_LONG_NAME, MAX_PAX_HEADER
from dr_lib.cli.main import main
from dr_lib.errors import IntegrityError

MiB = 1024 * 1024


def header(name: bytes, size: int | bytes, kind: bytes, *, checksum: int | None = None,
           magic: bytes = b"ustar  \0") -> bytes:
    """One raw 512-byte tar header; ``size`` as a number (octal) or the raw 12-byte field."""
    block = bytearray(512)
    block[:len(name)] = name
    block[100:108] = b"0000600\0"
    block[124:136] = size if isinstance(size, bytes) else f"{size:011o}\0".encode()
    block[156:157] = kind
    block[257:265] = magic + b"\0" * (8 - len(magic))
    block[148:156] = b" " * 8
    total = sum(block) if checksum is None else checksum
    block[148:156] = f"{total:06o}\0 ".encode()
    return bytes(block)


def archive_of(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw))
    return path


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def valid_tail() -> bytes:
    """A manifest member after whatever hostile header precedes it."""
    manifest = json.dumps(manifest_dict([])).encode()
    return header(b"manifest.json", len(manifest), b"0") + padded(manifest) + b"\0" * 1024


# (case, raw tar bytes, the reason named)
HOSTILE_HEADERS: list[tuple[str, bytes, str]] = [
    ("a 200 MiB GNU long name (header only: never read)", header(b"././@LongLink", 200 * MiB, b"L") + b"a" * 512,
     f"a GNU long-name header of {200 * MiB} bytes; the limit is {MAX_LONG_NAME}"),
    ("a 1 GiB pax header", header(b"PaxHeaders/x", 1024 * MiB, b"x"),
     f"a pax header of {1024 * MiB} bytes; the limit is {MAX_PAX_HEADER}"),
    ("a GNU long link name", header(b"././@LongLink", 100 * MiB, b"K"), "GNU long-name header of 104857600 bytes"),
    ("a pax global header", header(b"global", 10, b"g") + padded(b"10 a=bcd\n\n"), "a pax global header"),
    ("a bad checksum", header(b"manifest.json", 10, b"0", checksum=12345) + padded(b"x" * 10),
     "checksum does not match"),
    ("a negative size (base-256)", header(b"manifest.json", b"\xff" * 12, b"0"), "size is -1"),
    ("a size that is not octal", header(b"manifest.json", b"12345678901x", b"0"), "expected octal digits"),
    ("a malformed pax record", header(b"PaxHeaders/x", 20, b"x") + padded(b"99 path=manifest.json"),
     "pax header is malformed"),
    ("a pax record without '='", header(b"PaxHeaders/x", 12, b"x") + padded(b"12 pathxxxx\n"), "not key=value"),
    ("a pax size that is not a number", header(b"PaxHeaders/x", 12, b"x") + padded(b"12 size=1e9\n") + valid_tail(),
     "pax header's size is '1e9'"),
    ("extension headers without end", (header(b"././@LongLink", 4, b"L") + padded(b"abc\0")) * 6,
     "extension headers in a row"),
    ("a name that is not UTF-8", header(b"manifest\xff.json", 0, b"0"), "name is not UTF-8"),
    ("a header cut short", header(b"manifest.json", 0, b"0")[:300], "ends inside a tar header"),
    ("a member cut short", header(b"manifest.json", 5000, b"0") + b"{" * 100, "ends inside member 'manifest.json'"),
    ("a sparse file", header(b"manifest.json", 0, b"S"), "is a sparse file"),
    ("a contiguous file", header(b"manifest.json", 0, b"7"), "is a contiguous file"),
    ("an unknown type", header(b"manifest.json", 0, b"Z"), "of tar type b'Z'"),
]


@pytest.mark.parametrize(("raw", "reason"), [c[1:] for c in HOSTILE_HEADERS], ids=[c[0] for c in HOSTILE_HEADERS])
def test_hostile_headers_are_refused_by_name(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = archive_of(tmp_path / "k3s-dr-20261128T100000Z.tar.gz", raw)
    with pytest.raises(IntegrityError) as caught:
        verify_archive(path)
    assert reason in caught.value.message
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 600


def _manifest_archive(tmp_path: Path, manifest: bytes) -> Path:
    return raw_archive(tmp_path / "k3s-dr-20261128T100000Z.tar.gz", [Member("manifest.json", manifest)])


# (case, manifest bytes, the reason named)
HOSTILE_MANIFESTS: list[tuple[str, bytes, str]] = [
    ("10^5 nested arrays", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("10^5 nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    ("nesting inside a known field", json.dumps({**manifest_dict([]), "created": "x"}).encode().replace(
        b'"created": "x"', b'"created": ' + b"[" * 5000 + b"]" * 5000), "nested too deeply"),
    ("a number of 10^5 digits", json.dumps(manifest_dict([])).encode().replace(
        b'"objects": 0', b'"objects": ' + b"9" * 100_000), "not valid JSON"),
    ("a huge float", json.dumps(manifest_dict([])).encode().replace(b'"objects": 0', b'"objects": 1e999'),
     "field objects is inf: expected int"),
    ("NaN", json.dumps(manifest_dict([])).encode().replace(b'"objects": 0', b'"objects": NaN'), "holds NaN"),
    ("invalid UTF-8", b'{"format": "k3s-dr-archive\xff\xfe"}', "not valid JSON"),
    ("a key given twice", json.dumps(manifest_dict([])).encode().replace(
        b'"format": "k3s-dr-archive"', b'"format": "k3s-dr-archive", "format": "other"'),
     "names the key 'format' twice"),
    ("a 1 MB string where a name belongs", json.dumps(manifest_dict([]) | {"tool_version": 5, "created": "x" * MiB})
     .encode(), "expected UTC like"),
    ("not JSON at all", b"\x00\x01\x02", "not valid JSON"),
]


@pytest.mark.parametrize(("raw", "reason"), [c[1:] for c in HOSTILE_MANIFESTS],
                         ids=[c[0] for c in HOSTILE_MANIFESTS])
def test_hostile_manifests_end_in_one_line(tmp_path: Path, raw: bytes, reason: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        verify_archive(_manifest_archive(tmp_path, raw))
    assert reason in caught.value.message
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 600


def test_a_deeply_nested_document_is_refused(tmp_path: Path) -> None:
    data = b"---\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    entry, _ = resources_member(CONFIGMAPS, [])
    entry.update(objects=1, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    path = raw_archive(tmp_path / "bad.tar.gz", [manifest_member(manifest_dict([entry])), Member(entry["path"], data)])
    with pytest.raises(IntegrityError, match="nested too deeply"):
        verify_archive(path)


@pytest.mark.parametrize("case", ["deep nesting", "oversize header"])
def test_k3s_dr_verify_exits_8_never_1(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    if case == "deep nesting":
        path = _manifest_archive(tmp_path, b"[" * 100_000 + b"]" * 100_000)
    else:
        path = archive_of(tmp_path / "k3s-dr-20261128T100000Z.tar.gz", HOSTILE_HEADERS[0][1])
    assert main(["verify", str(path)]) == 8
    err = capsys.readouterr().err
    assert err.startswith("k3s-dr: error: ") and err.count("\n") == 1 and "internal error" not in err


def test_long_member_names_of_both_tar_dialects_still_read(tmp_path: Path) -> None:
    # Names over 100 bytes: our writer puts them in a pax header, GNU tar in a long-name header.
    long_group = "a" * 60 + ".example.com"
    kind = Kind(long_group, "v1", "widgets" + "x" * 60, "Widget")
    written = good_archive(tmp_path, {kind: [kind.obj("w1", "shop")], WIDGETS: [WIDGETS.obj("w2", "shop")]})
    with tarfile.open(written) as tar:
        assert len(tar.getnames()[1]) > 100
    assert b" path=resources/widgets" in gzip.decompress(written.read_bytes())  # a pax header
    assert verify_archive(written).objects == 2
    entry, member = resources_member(kind, [kind.obj("w1", "shop")])
    gnu = raw_archive(tmp_path / "gnu.tar.gz", [manifest_member(manifest_dict([entry])), member])
    assert b"././@LongLink" in gzip.decompress(gnu.read_bytes())  # a GNU long-name header
    assert verify_archive(gnu).objects == 1


def test_a_pax_size_beyond_the_octal_field_is_read_from_the_pax_header(tmp_path: Path) -> None:
    manifest = json.dumps(manifest_dict([])).encode()
    record = b" size=%d\n" % len(manifest)
    pax = b"%d%s" % (len(record) + 2, record)  # the length counts its own two digits
    raw = header(b"PaxHeaders/manifest.json", len(pax), b"x") + padded(pax)
    raw += header(b"manifest.json", 0, b"0") + padded(manifest) + b"\0" * 1024  # the ustar size field says 0
    assert verify_archive(archive_of(tmp_path / "pax.tar.gz", raw)).objects == 0
