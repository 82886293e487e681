"""The streaming, atomic archive writer.

Each member is first spooled to a file (one per kind, written page by page while its LIST
runs, so memory stays flat however many objects there are) with its sha256, size and object
count computed on the way. Once every member is spooled the manifest is known, and the
archive is written in one pass — ``manifest.json`` first — to a hidden temporary file in the
backup directory, fsynced, and renamed to its final name. Nothing but a complete archive ever
carries an archive name.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from dr_lib.archive import format as fmt
from dr_lib.archive.documents import encode_documents
from dr_lib.archive.fsutil import create_private, os_problem, temp_path, unlink_quietly
from dr_lib.archive.manifest import Manifest
from dr_lib.atomic import fsync_dir
from dr_lib.errors import IntegrityError

_COPY_BUFFER = 1024 * 1024
# Level 1: the archive is ~10% larger than at level 6, and writing it costs half the time.
DEFAULT_COMPRESSLEVEL = 1


@dataclass(frozen=True)
class SpoolSummary:
    path: Path
    objects: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SpoolMark:
    bytes: int
    objects: int
    sha: Any  # hashlib's sha256 object (its type is private)


class Spool:
    """One member being written: pages of objects appended to a private file, hashed on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = os.fdopen(create_private(path), "wb")
        except OSError as exc:
            raise os_problem(exc, "create the spool file", path) from None
        self._sha = hashlib.sha256()
        self.objects = 0
        self.bytes = 0

    def write_objects(self, objects: Iterable[dict[str, Any]]) -> int:
        items = list(objects)
        self.write_raw(encode_documents(items), len(items))
        return len(items)

    def write_raw(self, data: bytes, objects: int = 0) -> None:
        try:
            self._handle.write(data)
        except OSError as exc:
            raise os_problem(exc, "write the spool file", self.path) from None
        self._sha.update(data)
        self.bytes += len(data)
        self.objects += objects

    def mark(self) -> SpoolMark:
        """Where the spool stands now, to :meth:`rewind` to if a LIST has to start over."""
        return SpoolMark(self.bytes, self.objects, self._sha.copy())

    def rewind(self, mark: SpoolMark | None = None) -> None:
        """Drop everything written since ``mark`` (since the start when None)."""
        mark = mark or SpoolMark(0, 0, hashlib.sha256())
        try:
            self._handle.flush()
            self._handle.truncate(mark.bytes)
            self._handle.seek(mark.bytes)
        except OSError as exc:
            raise os_problem(exc, "truncate the spool file", self.path) from None
        self._sha = mark.sha.copy()
        self.objects = mark.objects
        self.bytes = mark.bytes

    def close(self) -> SpoolSummary:
        try:
            self._handle.close()
        except OSError as exc:
            raise os_problem(exc, "write the spool file", self.path) from None
        return SpoolSummary(self.path, self.objects, self.bytes, self._sha.hexdigest())

    def discard(self) -> None:
        self._handle.close()
        unlink_quietly(self.path)


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = fmt.ARCHIVE_FILE_MODE
    info.mtime = mtime
    info.type = tarfile.REGTYPE
    info.uname = info.gname = "root"
    return info


@dataclass(frozen=True)
class WrittenArchive:
    """What the writer itself saw go into an archive file: its bytes' sha256 and count.

    Each member's bytes are not hashed again while copied: the manifest has their sha256 from the
    spool, and the read-back compares the archive's members with it.
    """

    path: Path
    sha256: str  # of the whole file, as written
    bytes: int


@dataclass(frozen=True)
class ArchiveHead:
    """The first members: the manifest's bytes and, when signed, the signature over exactly those bytes."""

    manifest: bytes
    signature: bytes | None = None


Signer = Callable[[bytes], bytes]  # the manifest's bytes → the signature member (dr_lib.signing.verify.sign)


def archive_head(manifest: Manifest, sign: Signer | None = None) -> ArchiveHead:
    manifest_bytes = manifest.to_json()
    return ArchiveHead(manifest_bytes, None if sign is None else sign(manifest_bytes))


class _HashingWriter:
    """The archive file as gzip sees it: every byte written is hashed and counted on its way to disk."""

    def __init__(self, handle: io.BufferedWriter) -> None:
        self._handle = handle
        self.sha = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.count += len(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()


def _write_members(handle: io.BufferedWriter, manifest: Manifest, sources: Mapping[str, Path],
                   level: int, head: ArchiveHead) -> tuple[str, int]:
    mtime = int(manifest.created_at.timestamp())
    out = _HashingWriter(handle)
    with gzip.GzipFile(filename="", mode="wb", fileobj=cast(IO[bytes], out), compresslevel=level,
                       mtime=mtime) as compressed, \
            tarfile.TarFile(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_COPY_BUFFER) as tar:
        tar.addfile(_tarinfo(fmt.MANIFEST_MEMBER, len(head.manifest), mtime), io.BytesIO(head.manifest))
        if head.signature is not None:
            tar.addfile(_tarinfo(fmt.SIGNATURE_MEMBER, len(head.signature), mtime), io.BytesIO(head.signature))
        for member in manifest.member_paths():
            source = sources[member]
            size = source.stat().st_size
            if size != manifest.member_facts(member)[0]:
                raise IntegrityError(f"spooled {member!r} has {size} bytes, the manifest says otherwise")
            with source.open("rb") as data:
                tar.addfile(_tarinfo(member, size, mtime), data)
    return out.sha.hexdigest(), out.count


def _rename_no_clobber(temp: Path, final: Path) -> None:
    # link() fails when the name exists, where rename() would silently replace an archive.
    try:
        os.link(temp, final)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) or final.exists():
            raise
        temp.rename(final)  # a file system without hard links; the caller holds the lock
        return
    temp.unlink()


def write_archive(directory: Path, manifest: Manifest, sources: Mapping[str, Path],
                  *, compresslevel: int = DEFAULT_COMPRESSLEVEL, head: ArchiveHead | None = None) -> Path:
    """Write ``manifest`` and the spooled ``sources`` (member path → file) as one archive, atomically.

    The archive's name comes from ``manifest.created``; an existing archive of that name is an
    error (the caller picks a free second), never overwritten. ``head``: the manifest's bytes as
    they must be stored, with their signature (:func:`archive_head`); default ``manifest.to_json()``
    unsigned.
    """
    return write_archive_hashed(directory, manifest, sources, compresslevel=compresslevel, head=head).path


def write_archive_hashed(directory: Path, manifest: Manifest, sources: Mapping[str, Path],
                         *, compresslevel: int = DEFAULT_COMPRESSLEVEL, head: ArchiveHead | None = None
                         ) -> WrittenArchive:
    """:func:`write_archive`, and what the writer saw: the file's sha256 and size.

    Nothing is judged here (a test may write a lying archive on purpose): the backup hands this
    to :func:`dr_lib.archive.access.verify_written`.
    """
    head = head or archive_head(manifest)
    final = directory / fmt.archive_name(manifest.created_at)
    temp = temp_path(final)
    unlink_quietly(temp)
    try:
        with os.fdopen(create_private(temp), "wb") as handle:
            sha256, size = _write_members(handle, manifest, sources, compresslevel, head)
            handle.flush()
            os.fsync(handle.fileno())
        _rename_no_clobber(temp, final)
        fsync_dir(directory)
    except OSError as exc:
        unlink_quietly(temp)
        raise os_problem(exc, "write the archive", final) from None
    except BaseException:
        unlink_quietly(temp)
        raise
    return WrittenArchive(final, sha256, size)
