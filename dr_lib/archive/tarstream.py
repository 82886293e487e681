"""The tar stream inside an archive, read with our own header parser: bounded before any payload is read.

tarfile reads the payload of a GNU long-name or pax header into memory whole, whatever size the
header claims: a 5 MB archive whose first header announces a 200 MiB long name cost ~620 MiB
before anything could refuse it. And the Python this runs on (3.11.7) predates the 2025 fixes of
tarfile's extraction filters. k3s-dr archives hold regular files only, so this reader knows just
what our writer (tarfile's pax format) and hand-made test archives (GNU format) produce: regular
files, pax extended headers and GNU long names — both of bounded size — and the end of the
archive. Any other member type is reported by name, from its 512-byte header, before its
payload is touched; sizes, checksums and names are checked on the raw header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO, cast

from dr_lib.archive.format import shown
from dr_lib.errors import IntegrityError

BLOCK = 512
MAX_LONG_NAME = 4096  # PATH_MAX: no member name of ours comes near it
MAX_PAX_HEADER = 64 * 1024
MAX_EXTENSIONS = 4  # extension headers in a row before one real header
_CHUNK = 1024 * 1024

REGULAR = (b"0", b"\0")
PAX = b"x"
GNU_LONG_NAME = b"L"
GNU_LONG_LINK = b"K"
_TYPE_NAMES = {
    b"1": "a hard link", b"2": "a symbolic link", b"3": "a device or FIFO", b"4": "a device or FIFO",
    b"5": "a directory", b"6": "a device or FIFO", b"7": "a contiguous file", b"g": "a pax global header",
    b"S": "a sparse file", b"V": "a volume label", b"M": "a multi-volume continuation",
}
_OCTAL = re.compile(rb"^[0-7]*$")


@dataclass(frozen=True)
class TarMember:
    """One member as its headers describe it."""

    name: str
    size: int
    type: bytes
    linkname: str = ""

    @property
    def regular(self) -> bool:
        return self.type in REGULAR

    def describe(self) -> str:
        what = _TYPE_NAMES.get(self.type, f"of tar type {self.type!r}")
        return f"{what} to {self.linkname!r}" if self.type in (b"1", b"2") else what


def _number(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or base-256 (a first byte 0x80/0xff) as GNU tar writes large values."""
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            value -= 256 ** (len(field) - 1)
    else:
        text = field.split(b"\0", 1)[0].strip()
        if _OCTAL.match(text) is None:
            raise IntegrityError(f"a tar header's {what} field is {shown(field)}: expected octal digits")
        value = int(text or b"0", 8)
    if value < 0:
        raise IntegrityError(f"a tar header's {what} is {value}: expected a number ≥ 0")
    return value


def _text(field: bytes, what: str) -> str:
    raw = field.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"a tar header's {what} is not UTF-8: {shown(raw)}") from None


def _check_sum(header: bytes) -> None:
    stored = _number(header[148:156], "checksum")
    unsigned = 256 + sum(header[:148]) + sum(header[156:])
    signed = unsigned - 256 * sum(1 for b in header[:148] + header[156:] if b > 127)
    if stored not in (unsigned, signed):
        raise IntegrityError("a tar header's checksum does not match its bytes (not a tar stream, or damaged)")


def _pax_records(payload: bytes) -> dict[str, str]:
    """``<length> <key>=<value>\\n`` records (POSIX pax), each checked; the later of two keys wins, as in tar."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(payload) and payload[pos:pos + 1] != b"\0":
        space = payload.find(b" ", pos, pos + 20)
        length_text = payload[pos:space] if space > pos else b""
        if not length_text.isdigit() or int(length_text) < 5 or pos + int(length_text) > len(payload):
            raise IntegrityError(f"a pax header is malformed at byte {pos}")
        record = payload[space + 1:pos + int(length_text)]
        key, equals, value = record.partition(b"=")
        if not equals or not record.endswith(b"\n"):
            raise IntegrityError(f"a pax header record at byte {pos} is not key=value")
        try:
            records[key.decode("utf-8")] = value[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise IntegrityError(f"a pax header record at byte {pos} is not UTF-8") from None
        pos += int(length_text)
    return records


class TarStream:
    """Members of a tar stream, one after another; each member's bytes through :meth:`member_reader`."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._remaining = 0  # unread bytes of the current member
        self._padding = 0  # zero padding after it
        self.ended = False

    def _read(self, size: int, what: str) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self._raw.read(min(size - len(data), _CHUNK))
            if not chunk:
                raise IntegrityError(f"the tar stream ends inside {what}")
            data += chunk
        return bytes(data)

    def _skip(self, size: int, what: str) -> None:
        while size > 0:
            size -= len(self._read(min(size, _CHUNK), what))

    def _payload(self, size: int, limit: int, what: str) -> bytes:
        if size > limit:
            raise IntegrityError(f"{what} header of {size} bytes; the limit is {limit}, refused before reading it")
        data = self._read(size, f"{what} header")
        self._skip(-size % BLOCK, f"{what} header")
        return data

    def _header(self) -> bytes | None:
        first = self._raw.read(BLOCK)
        if not first:
            return None  # no end-of-archive blocks: the stream simply ends, as tar accepts
        header = first if len(first) == BLOCK else first + self._read(BLOCK - len(first), "a tar header")
        if not header.strip(b"\0"):
            return None
        _check_sum(header)
        return header

    def skip_member(self) -> None:
        """Read past what is left of the current member and its padding (``next`` does it too)."""
        self._skip(self._remaining + self._padding, "a member")
        self._remaining = self._padding = 0

    def next(self) -> TarMember | None:
        """The next member (its payload unread); None at the end of the archive."""
        self.skip_member()
        if self.ended:
            return None
        overrides: dict[str, str] = {}
        for _ in range(MAX_EXTENSIONS + 1):
            header = self._header()
            if header is None:
                self.ended = True
                return None
            kind, size = header[156:157], _number(header[124:136], "size")
            if kind == PAX:
                overrides.update(_pax_records(self._payload(size, MAX_PAX_HEADER, "a pax")))
            elif kind in (GNU_LONG_NAME, GNU_LONG_LINK):
                key = "path" if kind == GNU_LONG_NAME else "linkpath"
                overrides[key] = _text(self._payload(size, MAX_LONG_NAME, "a GNU long-name"), "long name")
            else:
                return self._member(header, kind, size, overrides)
        raise IntegrityError(f"more than {MAX_EXTENSIONS} extension headers in a row before one member")

    def _member(self, header: bytes, kind: bytes, size: int, overrides: dict[str, str]) -> TarMember:
        name = _text(header[:100], "name")
        if header[257:263] == b"ustar\0" and header[345:500].strip(b"\0"):  # POSIX: name split into prefix/name
            name = f"{_text(header[345:500], 'name prefix')}/{name}"
        if "size" in overrides:
            if not overrides["size"].isdigit():
                raise IntegrityError(f"a pax header's size is {shown(overrides['size'])}: expected digits")
            size = int(overrides["size"])
        member = TarMember(overrides.get("path", name), size, kind,
                           overrides.get("linkpath", _text(header[157:257], "link name")))
        if member.regular:
            self._remaining, self._padding = size, -size % BLOCK
        return member

    def read_member(self, size: int, name: str) -> bytes:
        """Up to ``size`` (-1: all) of the current member's unread bytes; b"" at its end."""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        if wanted <= 0:
            return b""
        data = self._read(wanted, f"member {name!r}")
        self._remaining -= len(data)
        return data

    def member_reader(self, member: TarMember) -> IO[bytes]:
        """The current member's bytes: exactly ``member.size`` of them, however much is asked for."""
        return cast(IO[bytes], _MemberReader(self, member.name))


class _MemberReader:
    def __init__(self, stream: TarStream, name: str) -> None:
        self._stream = stream
        self._name = name

    def read(self, size: int = -1) -> bytes:
        return self._stream.read_member(size, self._name)
