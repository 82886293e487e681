"""The safe, streaming archive reader: nothing is extracted, nothing is trusted unchecked.

An archive is read front to back once: the gzip stream (its CRC included), every tar header,
every member's bytes. Members must be regular files whose names are exactly the manifest's, in
the manifest's order; anything else — absolute paths, ``..``, links, devices, extra or
missing members, sizes or checksums or object counts that differ from the manifest, a
compression ratio only a bomb reaches, a header larger than any of ours — is an
:class:`IntegrityError` naming the reason. Tar headers are parsed by :mod:`.tarstream`, never
by tarfile, so memory stays bounded by the largest member read whole (the manifest).

The bomb check is judged on the archive's structure. Every member's tar header must give the
size the manifest declares before a byte of it is read, so no member expands past what the
manifest said. Application data members (``data/…``: dumps, volume copies) are bounded by that
declared size and their sha256, so their expansion is not held to the ratio — a zero-filled
database dump legitimately compresses ~1000x. Everything else — the manifest, resources, the
datastore, tar headers and padding, anything after the tar end — is, and expanding more than
``MAX_COMPRESSION_RATIO`` refuses the archive as a likely gzip bomb.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from dr_lib.archive import format as fmt
from dr_lib.archive.manifest import Manifest, parse_manifest
from dr_lib.archive.tarstream import TarMember, TarStream
from dr_lib.errors import IntegrityError

_CHUNK = 1024 * 1024
_BROKEN = (gzip.BadGzipFile, EOFError, zlib.error)


class _Counting:
    """A read-only file wrapper that counts (and, with ``sha``, hashes) what passes through it."""

    def __init__(self, inner: IO[bytes], on_read: Callable[[int], None] | None = None, *, sha: bool = True) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()
        self._hashing = sha
        self.count = 0
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        if self._hashing:
            self.sha.update(data)
        self.count += len(data)
        if self._on_read is not None:
            self._on_read(self.count)
        return data

    def as_io(self) -> IO[bytes]:
        return cast(IO[bytes], self)

    def drain(self) -> bool:
        """Read to the end; True when anything but zero padding was left."""
        dirty = False
        while chunk := self.read(_CHUNK):
            dirty = dirty or bool(chunk.strip(b"\0"))
        return dirty


def check_member_name(name: str) -> None:
    if name.startswith("/") or "\\" in name:
        raise IntegrityError(f"member {name!r} has an absolute or non-POSIX path")
    if ".." in name.split("/") or "" in name.split("/") or "." in name.split("/"):
        raise IntegrityError(f"member {name!r} has '..', '.' or empty path components")


_END = TarMember("", 0, b"")  # a peek that found the end of the archive


class ArchiveStream:
    """One front-to-back pass over an archive file."""

    def __init__(self, path: Path, raw: IO[bytes]) -> None:
        self.path = path
        self.manifest_bytes = b""  # the manifest member exactly as stored (what a signature covers)
        self.signature_bytes: bytes | None = None  # the signature member after it, when there is one
        self._peeked: TarMember | None = None
        self._head: tuple[bytes, bytes | None] | None = None  # (manifest, signature) once read
        self.raw = _Counting(raw)
        gunzip = gzip.GzipFile(fileobj=cast(IO[bytes], self.raw), mode="rb")
        # The unpacked stream is only counted (bomb check): each member is hashed on its own.
        self.unpacked = _Counting(cast(IO[bytes], gunzip), self._check_ratio, sha=False)
        self._declared: dict[str, int] = {}  # member → its size in the manifest
        self._bounded: frozenset[str] = frozenset()  # data members: bounded by declared size and sha256
        self._bounded_from: tuple[int, int] | None = None  # (unpacked, raw) when the current bounded member began
        self._exempt = (0, 0)  # (unpacked, raw) bytes of bounded members so far
        self.tar = TarStream(cast(IO[bytes], self.unpacked))

    def _check_ratio(self, unpacked: int) -> None:
        if self._bounded_from is not None:
            return
        judged, raw = unpacked - self._exempt[0], max(self.raw.count - self._exempt[1], 1)
        if judged > fmt.RATIO_CHECK_AFTER_BYTES and judged > fmt.MAX_COMPRESSION_RATIO * raw:
            raise IntegrityError(f"{self.path}: expands more than {fmt.MAX_COMPRESSION_RATIO}x "
                                 f"({judged} bytes from {raw}, application data aside); refusing a likely gzip bomb")

    def _end_bounded(self) -> None:
        if self._bounded_from is not None:
            unpacked, raw = self._bounded_from
            self._exempt = (self._exempt[0] + self.unpacked.count - unpacked, self._exempt[1] + self.raw.count - raw)
            self._bounded_from = None

    def _next(self) -> TarMember | None:
        peeked, self._peeked = self._peeked, None
        if peeked is not None:
            return None if peeked is _END else peeked
        self.tar.skip_member()  # the rest of the previous member, still judged as that member
        self._end_bounded()
        return self.tar.next()

    def next_member(self, expected: str) -> TarMember:
        member = self._next()
        if member is None:
            raise IntegrityError(f"{self.path}: member {expected!r} is missing (the archive ends early)")
        if not member.regular:
            raise IntegrityError(f"member {member.name!r} is {member.describe()}; only regular files are allowed")
        check_member_name(member.name)
        if member.name != expected:
            raise IntegrityError(f"member {member.name!r} found where the manifest expects {expected!r}")
        declared = self._declared.get(member.name)
        if declared is not None and member.size != declared:
            raise IntegrityError(f"member {member.name!r}: its tar header says {member.size} bytes, the manifest "
                                 f"says {declared}")
        if member.name in self._bounded:
            self._bounded_from = (self.unpacked.count, self.raw.count)
        return member

    def open_member(self, member: TarMember) -> IO[bytes]:
        return self.tar.member_reader(member)

    def read_head(self) -> tuple[bytes, bytes | None]:
        """The manifest's bytes and, when the next member is the signature, its bytes: each bounded."""
        member = self.next_member(fmt.MANIFEST_MEMBER)
        if member.size > fmt.MAX_MANIFEST_BYTES:
            raise IntegrityError(f"manifest.json is {member.size} bytes; the limit is {fmt.MAX_MANIFEST_BYTES}")
        self.manifest_bytes = self.open_member(member).read()  # bounded just above
        following = self.tar.next()
        self._peeked = _END if following is None else following
        if following is not None and following.name == fmt.SIGNATURE_MEMBER:
            signature = self.next_member(fmt.SIGNATURE_MEMBER)
            if signature.size > fmt.MAX_SIGNATURE_BYTES:
                raise IntegrityError(f"{fmt.SIGNATURE_MEMBER} is {signature.size} bytes; a signature is at most "
                                     f"{fmt.MAX_SIGNATURE_BYTES}")
            self.signature_bytes = self.open_member(signature).read()
        self._head = (self.manifest_bytes, self.signature_bytes)
        return self._head

    def read_manifest(self) -> Manifest:
        """The manifest parsed (its head read first unless :meth:`read_head` ran: a signature is judged on
        the bytes before they are parsed); its declared sizes bound every member after it."""
        if self._head is None:
            self._head = self.read_head()
        manifest = parse_manifest(self._head[0])
        self._declared = dict(_declared_sizes(manifest))
        self._bounded = frozenset(entry.path for entry in manifest.data if entry.in_archive)  # not snapshots
        return manifest

    def finish(self) -> tuple[str, int]:
        """Check nothing follows the last member; return the whole file's sha256 and size."""
        extra = self._next()
        if extra is not None:
            raise IntegrityError(f"member {extra.name!r} is not in the manifest")
        if self.unpacked.drain():
            raise IntegrityError(f"{self.path}: data after the end of the tar archive")
        self.raw.drain()
        return self.raw.sha.hexdigest(), self.raw.count


def _declared_sizes(manifest: Manifest) -> Iterator[tuple[str, int]]:
    for entry in manifest.files:
        yield entry.path, entry.bytes
    if manifest.datastore is not None:
        yield manifest.datastore.path, manifest.datastore.bytes
        yield manifest.datastore.token_path, manifest.datastore.token_bytes
    if manifest.data_repository is not None:
        yield manifest.data_repository.key_path, manifest.data_repository.key_bytes
    for data in manifest.data:
        if data.in_archive:  # a snapshot's path names no member
            yield data.path, data.bytes


@contextmanager
def open_archive(path: str | Path) -> Iterator[ArchiveStream]:
    """An :class:`ArchiveStream` over ``path``; unreadable or corrupt input becomes IntegrityError."""
    archive = Path(path)
    if archive.is_symlink() and not archive.exists():
        raise IntegrityError(f"{archive}: a link to {archive.readlink()} which does not exist")
    try:
        handle = archive.open("rb")
    except OSError as exc:
        raise IntegrityError(f"{archive}: cannot be read: {exc.strerror}") from None
    try:
        yield ArchiveStream(archive, handle)
    except IntegrityError as exc:
        if str(archive) in exc.message:
            raise
        raise IntegrityError(f"{archive}: {exc.message}", hint=exc.hint) from None
    except _BROKEN as exc:
        raise IntegrityError(f"{archive}: not a readable tar.gz: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise IntegrityError(f"{archive}: read failed: {exc.strerror or exc}") from None
    finally:
        handle.close()


def hashed(handle: IO[bytes]) -> _Counting:
    """A reader of ``handle`` that counts and hashes; pass ``.as_io()`` where a file is expected."""
    return _Counting(handle)


def check_digest(where: str, reader: _Counting, size: int, sha256: str) -> None:
    if reader.count != size:
        raise IntegrityError(f"{where}: {reader.count} bytes, the manifest says {size}")
    if reader.sha.hexdigest() != sha256:
        raise IntegrityError(f"{where}: sha256 differs from the manifest (content changed or corrupt)")


def skip_member(stream: ArchiveStream, expected: str, size: int, sha256: str) -> None:
    """Read a member through, checking its size and checksum."""
    member = stream.next_member(expected)
    reader = hashed(stream.open_member(member))
    while reader.read(_CHUNK):
        pass
    check_digest(expected, reader, size, sha256)


def copy_member(stream: ArchiveStream, expected: str, size: int, sha256: str, target: IO[bytes]) -> None:
    member = stream.next_member(expected)
    reader = hashed(stream.open_member(member))
    while chunk := reader.read(_CHUNK):
        target.write(chunk)
    check_digest(expected, reader, size, sha256)

