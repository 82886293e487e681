"""The public way into an archive: read its manifest, stream its objects, verify it, get its datastore."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.documents import check_document, iter_documents, parse_document
from dr_lib.archive.fsutil import create_private, os_problem, unlink_quietly
from dr_lib.archive.manifest import FileEntry, Manifest
from dr_lib.archive.reader import ArchiveStream, check_digest, copy_member, hashed, open_archive, skip_member
from dr_lib.archive.userobjects import count_user_objects as count_in
from dr_lib.archive.writer import WrittenArchive
from dr_lib.clock import monotonic
from dr_lib.errors import IntegrityError
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy
from dr_lib.signing.verify import NOT_SIGNED, SignatureCheck, check


@dataclass(frozen=True)
class VerifyResult:
    """What a passed verification proved about one archive file."""

    path: Path
    sha256: str  # of the whole archive file
    bytes: int
    manifest: Manifest
    seconds: float
    user_objects: int = 0  # counted from its objects by the current rules (dr_lib.archive.userobjects)
    signature: SignatureCheck = NOT_SIGNED  # of manifest.json, against the verify keys of the check

    @property
    def objects(self) -> int:
        return self.manifest.objects


@dataclass(frozen=True)
class DatastoreFiles:
    kind: str  # "sqlite" | "etcd"
    snapshot: Path
    token: Path


def _resource_documents(stream: ArchiveStream, entry: FileEntry, *,
                        exact: bool = True) -> Iterator[dict[str, Any]]:
    """The objects of one resources member, each checked; size, sha256 and count checked at its end.

    Without ``exact`` the objects are only checked (see :func:`check_document`), not kept.
    """
    reader = hashed(stream.open_member(stream.next_member(entry.path)))
    parse = parse_document if exact else check_document
    count = 0
    for count, raw in enumerate(iter_documents(reader.as_io(), where=entry.path), start=1):
        obj = parse(raw, where=f"{entry.path} document {count}")
        if obj["kind"] != entry.kind or obj["apiVersion"] != entry.api_version:
            raise IntegrityError(f"{entry.path} document {count} is {obj['apiVersion'][:80]} {obj['kind'][:80]}, "
                                 f"the manifest says {entry.api_version} {entry.kind}")
        yield obj
    check_digest(entry.path, reader, entry.bytes, entry.sha256)
    if count != entry.objects:
        raise IntegrityError(f"{entry.path} holds {count} objects, the manifest says {entry.objects}")


def _user_objects(stream: ArchiveStream, manifest: Manifest, entry: FileEntry) -> int:
    """The user objects of one resources member, counted from its objects; checked against the manifest's
    count when the manifest counted by the current rules (a forged count would mislead the shrink guard)."""
    counted = count_in(entry.resource, _resource_documents(stream, entry, exact=False))
    if manifest.counts_current and entry.user_objects != counted:
        raise IntegrityError(f"{entry.path} holds {counted} user objects, the manifest says {entry.user_objects}")
    return counted


def judge_signature(stream: ArchiveStream, trust: SignaturePolicy) -> SignatureCheck:
    """The manifest's signature, judged against the policy's keys (the manifest not parsed yet)."""
    manifest_bytes, signature = stream.read_head()
    return check(manifest_bytes, signature, trust.keys, fmt.MANIFEST_MEMBER, where=fmt.SIGNATURE_MEMBER)


def _walk(path: str | Path, trust: SignaturePolicy,
          enforce: bool) -> tuple[Manifest, str, int, int, SignatureCheck]:
    with open_archive(path) as stream:
        signature = judge_signature(stream, trust)
        if enforce:  # before a byte of the manifest is parsed: an unsigned or forged one is refused as it is
            trust.enforce(signature, f"{Path(path).name} refused")
        manifest = stream.read_manifest()  # the bytes just judged, now parsed; their sizes bound the rest
        user_objects = sum(_user_objects(stream, manifest, entry) for entry in manifest.files)
        datastore = manifest.datastore
        if datastore is not None:
            skip_member(stream, datastore.path, datastore.bytes, datastore.sha256)
            skip_member(stream, datastore.token_path, datastore.token_bytes, datastore.token_sha256)
            if datastore.token_bytes == 0:
                raise IntegrityError(f"{datastore.token_path} is empty; the datastore cannot be used without it")
        skip_data_members(stream, manifest)
        sha256, size = stream.finish()
    return manifest, sha256, size, user_objects, signature


def skip_data_members(stream: ArchiveStream, manifest: Manifest) -> None:
    """Read through the repository key and the in-archive data members, each checked."""
    repository = manifest.data_repository
    if repository is not None:
        skip_member(stream, repository.key_path, repository.key_bytes, repository.key_sha256)
    for data in manifest.data:
        if data.in_archive:
            skip_member(stream, data.path, data.bytes, data.sha256)


def skip_objects_and_datastore(stream: ArchiveStream, manifest: Manifest) -> None:
    """Read through the resources and datastore members, each checked: what precedes the data members."""
    for entry in manifest.files:
        skip_member(stream, entry.path, entry.bytes, entry.sha256)
    datastore = manifest.datastore
    if datastore is not None:
        skip_member(stream, datastore.path, datastore.bytes, datastore.sha256)
        skip_member(stream, datastore.token_path, datastore.token_bytes, datastore.token_sha256)


def read_repository_key(path: str | Path) -> bytes | None:
    """The data repository's key carried by the archive (checked against the manifest), None without one."""
    with open_archive(path) as stream:
        manifest = stream.read_manifest()
        repository = manifest.data_repository
        if repository is None:
            return None
        skip_objects_and_datastore(stream, manifest)
        reader = hashed(stream.open_member(stream.next_member(repository.key_path)))
        key = reader.read(repository.key_bytes + 1)
        check_digest(repository.key_path, reader, repository.key_bytes, repository.key_sha256)
        return key


def verify_archive(path: str | Path, trust: SignaturePolicy = NO_KEYS, *, enforce: bool = True) -> VerifyResult:
    """Check everything: the signature (by ``trust``), structure, manifest, every checksum and count,
    every document parses.

    Raises :class:`IntegrityError` with the first reason found. A signature ``trust`` refuses (an
    invalid one always; a missing one when verify keys are given, unless it allows unsigned
    archives) is such a reason, found before the manifest is parsed; ``enforce=False`` only
    records the verdict in the result (``k3s-dr verify`` reports it, then decides).
    """
    started = monotonic()
    manifest, sha256, size, user_objects, signature = _walk(path, trust, enforce)
    return VerifyResult(Path(path), sha256, size, manifest, monotonic() - started, user_objects, signature)


def verify_written(written: WrittenArchive, manifest: Manifest, trust: SignaturePolicy = NO_KEYS) -> VerifyResult:
    """Verify an archive this process has just written, without doing again what the write proved.

    The manifest holds each member's sha256 as its spool file was written, and the writer hashed
    the whole file as it wrote it. This reads the file back from the disk (its cached pages
    dropped first, so that the read reaches the device as far as the kernel can make it) and
    walks it as :func:`verify_archive` does — gzip stream and CRC, every tar header, each
    member's size and sha256 against the manifest (a spool changed before it was copied shows
    here), nothing after the last member — then compares the file's sha256 and size with what
    the writer wrote. The signature is judged by ``trust`` first, as :func:`verify_archive` does.
    It does not parse the documents again or recount their user objects: the backup encoded those
    documents from the objects it counted, and the hashes prove the archive holds exactly those
    bytes (``k3s-dr verify`` and every restore still check all of it). Raises :class:`IntegrityError`
    with the first difference found.
    """
    started = monotonic()
    _drop_cached_pages(written.path)
    with open_archive(written.path) as stream:
        signature = judge_signature(stream, trust)
        trust.enforce(signature, f"{written.path.name} refused")
        if stream.read_manifest() != manifest:
            raise IntegrityError(f"{written.path}: its manifest differs from the one written")
        for member in manifest.member_paths():  # each against its spool's sha256, taken as it was written
            skip_member(stream, member, *manifest.member_facts(member))
        if manifest.datastore is not None and manifest.datastore.token_bytes == 0:
            raise IntegrityError(f"{manifest.datastore.token_path} is empty; the datastore cannot be used without it")
        sha256, size = stream.finish()
    if (sha256, size) != (written.sha256, written.bytes):
        raise IntegrityError(f"{written.path}: read back {size} bytes with another sha256 than the {written.bytes} "
                             "written (the disk or file system returned other bytes)")
    return VerifyResult(written.path, sha256, size, manifest, monotonic() - started, manifest.user_objects or 0,
                        signature)


def _drop_cached_pages(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise IntegrityError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # fsynced, so clean: the kernel may drop them
    except OSError:
        pass  # advice only: a file system that ignores it is read from its cache
    finally:
        os.close(fd)


def count_user_objects(path: str | Path) -> int:
    """User objects of an archive by the current rules, counted from its objects (each document checked,
    the members' checksums too); the application data after them is not read."""
    with open_archive(path) as stream:
        manifest = stream.read_manifest()
        return sum(count_in(entry.resource, _resource_documents(stream, entry, exact=False))
                   for entry in manifest.files)


def read_manifest(path: str | Path) -> Manifest:
    """The manifest only (the first member): cheap, and checked for structure, not for content."""
    with open_archive(path) as stream:
        return stream.read_manifest()


def iter_archive_objects(path: str | Path) -> Iterator[tuple[FileEntry, dict[str, Any]]]:
    """Every object, streaming, in manifest order, with the entry of the file it came from.

    Each member's checksum and count are checked when its last object has been read, so a
    corrupt member raises IntegrityError *after* some of its objects were yielded: callers
    that act on objects (restore) run :func:`verify_archive` first.
    """
    with open_archive(path) as stream:
        manifest = stream.read_manifest()
        for entry in manifest.files:
            for obj in _resource_documents(stream, entry):
                yield entry, obj


def extract_datastore(path: str | Path, directory: Path) -> DatastoreFiles | None:
    """Copy the datastore snapshot and token out of an archive into ``directory`` (files 0600).

    None when the archive holds no datastore. The copies are checked against the manifest's
    sha256 before this returns; on any failure they are removed.
    """
    directory = Path(directory)
    with open_archive(path) as stream:
        manifest = stream.read_manifest()
        datastore = manifest.datastore
        if datastore is None:
            return None
        for entry in manifest.files:
            skip_member(stream, entry.path, entry.bytes, entry.sha256)
        snapshot = directory / Path(datastore.path).name
        token = directory / "token"
        try:
            for member, size, sha, target in ((datastore.path, datastore.bytes, datastore.sha256, snapshot),
                                              (datastore.token_path, datastore.token_bytes,
                                               datastore.token_sha256, token)):
                _copy_out(stream, member, size, sha, target)
        except BaseException:
            unlink_quietly(snapshot)
            unlink_quietly(token)
            raise
    return DatastoreFiles(datastore.kind, snapshot, token)


def _copy_out(stream: ArchiveStream, member: str, size: int, sha256: str, target: Path) -> None:
    unlink_quietly(target)
    try:
        with os.fdopen(create_private(target), "wb") as handle:
            copy_member(stream, member, size, sha256, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise os_problem(exc, "write", target) from None


def object_counts(manifest: Manifest) -> dict[str, int]:
    """``{"configmaps": 12, "deployments.apps": 3, ...}``: objects per kind, as the CLI reports them."""
    return {entry.resource: entry.objects for entry in manifest.files}


__all__ = ["DatastoreFiles", "VerifyResult", "count_user_objects", "extract_datastore", "iter_archive_objects",
           "object_counts", "read_manifest", "read_repository_key", "skip_data_members", "skip_objects_and_datastore",
           "verify_archive", "verify_written"]
