"""A bounded, streaming tar reader for volume data we did not write in this process.

Format-v1 volume data comes back as a tar stream: the archive member, our own tar of the volume
(format-v2 volumes are restored by restic, see :mod:`dr_lib.hooks.settle`). Python's ``tarfile``
extraction filters are not relied upon (the 3.11.7 runtime predates the 2025 filter fixes); this reader only
*parses*, member by member, and never touches the file system: :mod:`dr_lib.hooks.extract`
decides what each member may become.

Understood: POSIX ustar/GNU headers (``tarfile.TarInfo.frombuf`` parses one 512-byte block and
checks the checksum and the numbers), PAX extended headers (``path``, ``linkpath``, ``size``,
``uid``, ``gid``, ``mtime``) and GNU long names and link names. Refused with a reason: global PAX
headers, sparse files, and extension headers beyond the archive reader's bounds
(:mod:`dr_lib.archive.tarstream`: their size checked from the header before any payload is read,
and a few in a row at most), so a hostile stream cannot make us hold more than a few of them.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dr_lib.archive.tarstream import MAX_EXTENSIONS, MAX_LONG_NAME, MAX_PAX_HEADER
from dr_lib.errors import IntegrityError

BLOCK = 512
MAX_NAME = MAX_LONG_NAME
STREAM_CHUNK = 1 << 20

EXTENSION_TYPES = (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)

Read = Callable[[int], "bytes | memoryview"]  # up to n bytes; empty only at the end


@dataclass(frozen=True)
class Member:
    name: str
    type: bytes  # tarfile's REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, … as in the header
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str


class TarStream:
    """Members of a tar stream read through ``read``; :meth:`data` yields the current member's bytes."""

    def __init__(self, read: Read, where: str) -> None:
        self._read = read
        self.where = where
        self._left = 0  # bytes of the current member's data not yet read
        self._pad = 0

    def _exactly(self, count: int) -> bytes:
        parts: list[bytes | memoryview] = []
        want = count
        while want > 0:
            chunk = self._read(want)
            if not chunk:
                raise IntegrityError(f"{self.where}: the tar stream ends inside a member")
            parts.append(chunk)
            want -= len(chunk)
        return b"".join(parts)

    def _skip_rest(self) -> None:
        for _chunk in self.data():
            pass
        if self._pad:
            self._exactly(self._pad)
            self._pad = 0

    def data(self, chunk: int = STREAM_CHUNK) -> Iterator[bytes | memoryview]:
        while self._left > 0:
            piece = self._read(min(chunk, self._left))
            if not piece:
                raise IntegrityError(f"{self.where}: the tar stream ends inside a member")
            self._left -= len(piece)
            yield piece

    def _header(self) -> tarfile.TarInfo | None:
        block = self._read_block()
        if block is None or block == bytes(BLOCK):
            return None
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise IntegrityError(f"{self.where}: a broken tar header ({exc})") from None

    def _read_block(self) -> bytes | None:
        first = bytes(self._read(BLOCK))
        if not first:
            return None
        return first if len(first) == BLOCK else first + self._exactly(BLOCK - len(first))

    def _extended(self, info: tarfile.TarInfo, limit: int) -> bytes:
        if info.size > limit:
            raise IntegrityError(f"{self.where}: an extended tar header of {info.size} bytes (limit {limit}): "
                                 "refused before reading it")
        raw = self._exactly(info.size)
        self._exactly(-info.size % BLOCK)
        return raw

    def __iter__(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        long_name = long_link = None
        extensions = 0  # extension headers since the last member: bounded, or their records pile up
        while True:
            self._skip_rest()
            info = self._header()
            if info is None:
                return
            kind = info.type
            if kind in EXTENSION_TYPES:
                extensions += 1
                if extensions > MAX_EXTENSIONS:
                    raise IntegrityError(f"{self.where}: more than {MAX_EXTENSIONS} extension headers in a row "
                                         "before one member: refused")
            if kind in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
                pax.update(parse_pax(self._extended(info, MAX_PAX_HEADER), self.where))
                continue
            if kind in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                text = _gnu_text(self._extended(info, MAX_LONG_NAME + 1), self.where)  # the name and its NUL
                long_name, long_link = (text, long_link) if kind == tarfile.GNUTYPE_LONGNAME else (long_name, text)
                continue
            if kind == tarfile.XGLTYPE:
                raise IntegrityError(f"{self.where}: a global PAX header: refused (we never write one)")
            if kind == tarfile.GNUTYPE_SPARSE or any(key.startswith("GNU.sparse") for key in pax):
                raise IntegrityError(f"{self.where}: a sparse file: refused")
            member = _member(info, pax, long_name, long_link, self.where)
            pax, long_name, long_link, extensions = {}, None, None, 0
            self._left = member.size if member.type in tarfile.REGULAR_TYPES else 0
            self._pad = -self._left % BLOCK
            if member.type not in tarfile.REGULAR_TYPES and info.size:
                raise IntegrityError(f"{self.where}: {member.name!r} is not a regular file but carries data")
            yield member


def _gnu_text(raw: bytes, where: str) -> str:
    text = raw.split(b"\0", 1)[0]
    if len(text) > MAX_NAME:
        raise IntegrityError(f"{where}: a name of {len(text)} bytes (limit {MAX_NAME}): refused")
    return text.decode("utf-8", "surrogateescape")


def parse_pax(raw: bytes, where: str) -> dict[str, str]:
    """PAX records ``"<length> <key>=<value>\\n"``; IntegrityError for anything malformed."""
    records: dict[str, str] = {}
    position = 0
    while position < len(raw):
        space = raw.find(b" ", position)
        try:
            length = int(raw[position:space])
        except ValueError:
            raise IntegrityError(f"{where}: a malformed PAX header") from None
        record = raw[space + 1: position + length]
        if space < 0 or length <= 0 or position + length > len(raw) or not record.endswith(b"\n") \
                or b"=" not in record:
            raise IntegrityError(f"{where}: a malformed PAX header")
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


def _number(pax: dict[str, str], key: str, default: float, where: str) -> float:
    if key not in pax:
        return default
    try:
        return float(pax[key]) if key == "mtime" else int(pax[key])
    except ValueError:
        raise IntegrityError(f"{where}: PAX {key}={pax[key]!r} is not a number") from None


def _member(info: tarfile.TarInfo, pax: dict[str, str], long_name: str | None, long_link: str | None,
            where: str) -> Member:
    name = pax.get("path", long_name if long_name is not None else info.name)
    link = pax.get("linkpath", long_link if long_link is not None else info.linkname)
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME or len(link) > MAX_NAME:
        raise IntegrityError(f"{where}: a name longer than {MAX_NAME} bytes: refused")
    size = int(_number(pax, "size", info.size, where))
    if size < 0:
        raise IntegrityError(f"{where}: {name!r} has a negative size")
    return Member(name, info.type, size, info.mode, int(_number(pax, "uid", info.uid, where)),
                  int(_number(pax, "gid", info.gid, where)), _number(pax, "mtime", info.mtime, where), link)
