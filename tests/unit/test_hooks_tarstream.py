"""The volume tar reader keeps the archive reader's bounds: extension headers are sized before reading, few in a row."""

from __future__ import annotations

import io
import tarfile

import pytest

from dr_lib.archive.tarstream import MAX_EXTENSIONS, MAX_LONG_NAME, MAX_PAX_HEADER
from dr_lib.errors import IntegrityError
from dr_lib.hooks.tarstream import TarStream


def _header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT)


def _pax(records: dict[str, str]) -> bytes:
    body = b"".join(_record(k, v) for k, v in records.items())
    return _header("PaxHeader", tarfile.XHDTYPE, len(body)) + body + bytes(-len(body) % 512)


def _record(key: str, value: str) -> bytes:
    text = f" {key}={value}\n".encode()
    length = len(text) + len(str(len(text)))
    length = len(text) + len(str(length))
    return str(length).encode() + text


def _members(raw: bytes) -> list[str]:
    return [m.name for m in TarStream(io.BytesIO(raw).read, "volume data/volumes/ns/v.dir")]


def test_a_plain_stream_still_reads() -> None:
    raw = _pax({"path": "dir/long-" + "n" * 200}) + _header("ignored", tarfile.REGTYPE, 0) + bytes(1024)
    assert _members(raw) == ["dir/long-" + "n" * 200]


@pytest.mark.parametrize(("kind", "size"), [
    (tarfile.GNUTYPE_LONGNAME, 200 << 20),  # 200 MiB announced, a few blocks sent: refused, not awaited
    (tarfile.GNUTYPE_LONGLINK, MAX_LONG_NAME + 2),
    (tarfile.XHDTYPE, MAX_PAX_HEADER + 1),
])
def test_an_oversized_extension_header_is_refused_before_its_payload(kind: bytes, size: int) -> None:
    raw = _header("././@LongLink", kind, size) + b"x" * 2048
    with pytest.raises(IntegrityError, match=rf"extended tar header of {size} bytes .*refused before reading it"):
        _members(raw)


def test_extension_headers_cannot_pile_up_before_a_member() -> None:
    # Each within its bound, each with a new key: without a count their records would accumulate without end.
    raw = b"".join(_pax({f"k3s.junk{i}": "v" * 1000}) for i in range(MAX_EXTENSIONS + 1))
    raw += _header("f", tarfile.REGTYPE, 0) + bytes(1024)
    with pytest.raises(IntegrityError, match=f"more than {MAX_EXTENSIONS} extension headers in a row"):
        _members(raw)


def test_the_count_starts_again_at_each_member() -> None:
    one = b"".join(_pax({f"k3s.x{i}": "v"}) for i in range(MAX_EXTENSIONS))
    raw = one + _header("a", tarfile.REGTYPE, 0) + one + _header("b", tarfile.REGTYPE, 0) + bytes(1024)
    assert _members(raw) == ["a", "b"]
