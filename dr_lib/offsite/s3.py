"""An S3 bucket as an offsite target: multipart upload to a hidden key, read back, then published.

Layout under the target's prefix ``P``::

    P<archive>[.age]                 the copy (encrypted when recipients are configured)
    P<archive>[.age].verified.json   its record, written LAST: only a copy with a matching
                                     record is good (pulled, counted, kept by retention)
    P.incoming/<copy>.<random>       uploads in progress; never listed as copies

A push uploads to ``.incoming/`` in parts, each with its SHA-256 so the server refuses a part
damaged in transit; reads the whole object back and compares its SHA-256 with the local file;
copies it server-side to its final key (with an object-lock retention when configured); checks
the final object's size and recorded checksum; writes the record; removes the temporary key.
A push that dies at any step leaves at most an ``.incoming/`` key, an unfinished multipart
upload, or a copy without a record: none of them is a good copy, and the next push removes
what is older than :data:`STALE_AFTER`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import child_path, create_private, unlink_quietly
from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import DeadlineExceeded, RemoteIntegrityError
from dr_lib.offsite.crypto import plain_name
from dr_lib.offsite.model import GOOD, INCOMPLETE, RECORD_SUFFIX, CopyRecord, RemoteCopy, parse_record, record_json
from dr_lib.offsite.s3client import make_client, s3_errors

INCOMING = ".incoming/"
PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB for every part but the last
STALE_AFTER = timedelta(hours=1)
_CHUNK = 1024 * 1024


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class S3Bucket:
    """The bucket operations of an S3 target (see :mod:`dr_lib.offsite.s3target` for a whole push)."""

    def __init__(self, name: str, config: OffsiteTargetConfig, *, client: Any = None,
                 part_size: int = PART_SIZE) -> None:
        self.name = name
        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.part_size = part_size
        self.client = client if client is not None else make_client(config)
        self._records: dict[str, CopyRecord] = {}  # listing cache for this process; fetch always re-reads
    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _errors(self, doing: str) -> Any:
        return s3_errors(target=self.name, where=self.where, doing=doing)

    # -- bucket facts -------------------------------------------------------------------------
    def bucket_features(self) -> dict[str, Any]:
        """Checks bucket and credentials, and reports versioning and object lock (where supported)."""
        with self._errors("open the bucket"):
            self.client.head_bucket(Bucket=self.bucket)
        features: dict[str, Any] = {"versioning": "unsupported", "object_lock": "unsupported"}
        with contextlib.suppress(Exception):  # a server without the API: nothing to use
            features["versioning"] = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status") or "off"
        try:
            lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            features["object_lock"] = "enabled" if enabled else "off"
        except Exception:  # noqa: BLE001 - "not found" (no lock) or not implemented
            features["object_lock"] = "off"
        return features

    # -- upload -------------------------------------------------------------------------------
    def upload(self, source: Path, copy_name: str, deadline: float) -> tuple[str, int]:
        """Upload ``source`` to a hidden temporary key in parts; return (key, bytes)."""
        key = f"{self.prefix}{INCOMING}{copy_name}.{secrets.token_hex(6)}"
        with self._errors(f"start the upload of {copy_name}"):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
        try:
            with self._errors(f"upload {copy_name}"):
                sent = self._send_parts(source, key, upload_id, deadline)
        except BaseException:
            self._abort_quietly(key, upload_id)
            raise
        return key, sent

    def _send_parts(self, source: Path, key: str, upload_id: str, deadline: float) -> int:
        parts: list[dict[str, Any]] = []
        sent = 0
        with source.open("rb") as handle:
            while True:
                chunk = handle.read(self.part_size)
                if not chunk and parts:
                    break
                _check_deadline(deadline, f"uploading to {self.where}")
                checksum = _b64_sha256(chunk)
                answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                 PartNumber=len(parts) + 1, Body=chunk, ChecksumSHA256=checksum)
                parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
                sent += len(chunk)
                if len(chunk) < self.part_size:
                    break
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": parts})
        return sent

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(Exception):  # the server may be gone: the next push removes stale uploads
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def read_back(self, key: str, size: int, sha256: str, deadline: float) -> None:
        """GET the whole object and compare size and SHA-256 with what we sent."""
        with self._errors(f"read back {key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            digest, count = _hash_stream(body, deadline, f"reading back {key}")
        if count != size or digest != sha256:
            raise RemoteIntegrityError(f"offsite target {self.name!r}: {key} read back as {count} bytes with "
                                       f"sha256 {digest[:12]}…, sent {size} bytes with {sha256[:12]}…")

    def publish(self, temp_key: str, copy_name: str, record: CopyRecord) -> dict[str, Any]:
        """Copy the verified upload to its final key, check it, write the record, drop the temp key."""
        final = self.prefix + copy_name
        extra: dict[str, Any] = {"Metadata": {"sha256": record.sha256, "archive-sha256": record.archive_sha256},
                                 "MetadataDirective": "REPLACE"}
        if self.config.object_lock_days > 0:
            extra["ObjectLockMode"] = self.config.object_lock_mode
            extra["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.config.object_lock_days)
        with self._errors(f"publish {copy_name}"):
            self.client.copy_object(Bucket=self.bucket, Key=final, CopySource={"Bucket": self.bucket, "Key": temp_key},
                                    **extra)
            head = self.client.head_object(Bucket=self.bucket, Key=final)
        if int(head["ContentLength"]) != record.bytes or head.get("Metadata", {}).get("sha256") != record.sha256:
            raise RemoteIntegrityError(f"offsite target {self.name!r}: {final} differs from the verified upload "
                                       f"after the server-side copy ({head['ContentLength']} bytes)")
        with self._errors(f"write the record of {copy_name}"):
            self.client.put_object(Bucket=self.bucket, Key=final + RECORD_SUFFIX, Body=record_json(record),
                                   ContentType="application/json")
            self.client.delete_object(Bucket=self.bucket, Key=temp_key)
        return {"key": final, "version_id": head.get("VersionId"),
                "locked_until": str(head["ObjectLockRetainUntilDate"]) if "ObjectLockRetainUntilDate" in head
                else None}

    # -- listing ------------------------------------------------------------------------------
    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        with self._errors("list the bucket"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                yield from page.get("Contents", [])

    def _record(self, key: str, *, fresh: bool = False) -> CopyRecord:
        if not fresh and key in self._records:
            return self._records[key]
        with self._errors(f"read {key}"):
            raw = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        self._records[key] = parse_record(raw, f"s3://{self.bucket}/{key}")
        return self._records[key]

    def list_copies(self, deadline: float | None = None) -> list[RemoteCopy]:
        """Every copy under the prefix, good or not, and the debris of interrupted uploads."""
        sizes: dict[str, int] = {}
        records: set[str] = set()
        found: list[RemoteCopy] = []
        for item in self._objects(self.prefix):
            name = item["Key"][len(self.prefix):]
            if name.startswith(INCOMING):
                found.append(RemoteCopy(self.name, plain_name(name[len(INCOMING):].rsplit(".", 1)[0]), item["Key"],
                                        int(item["Size"]), INCOMPLETE, note="upload in progress or interrupted"))
            elif name.endswith(RECORD_SUFFIX):
                records.add(name[: -len(RECORD_SUFFIX)])
            elif "/" not in name and fmt.archive_time(plain_name(name)) is not None:
                sizes[name] = int(item["Size"])
        for name, size in sizes.items():
            found.append(self._classify(name, size, name in records))
        for name in records - set(sizes):
            found.append(RemoteCopy(self.name, plain_name(name), self.prefix + name + RECORD_SUFFIX, 0, INCOMPLETE,
                                    note="a record whose copy is missing"))
        found.extend(self._unfinished_uploads())
        found.sort(key=lambda c: (c.archive, c.state), reverse=True)
        return found

    def _classify(self, name: str, size: int, has_record: bool) -> RemoteCopy:
        key = self.prefix + name
        if not has_record:
            return RemoteCopy(self.name, plain_name(name), key, size, INCOMPLETE, note="no record: never verified")
        record = self._record(key + RECORD_SUFFIX)
        if record.copy != name or record.bytes != size:
            return RemoteCopy(self.name, plain_name(name), key, size, INCOMPLETE, record,
                              note=f"size {size} differs from the record's {record.bytes}")
        return RemoteCopy(self.name, record.archive, key, size, GOOD, record)

    def _unfinished_uploads(self) -> list[RemoteCopy]:
        with self._errors("list unfinished uploads"):
            answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix + INCOMING)
        return [RemoteCopy(self.name, plain_name(u["Key"].rsplit("/", 1)[-1].rsplit(".", 1)[0]),
                           f"{u['Key']}?uploadId={u['UploadId']}", 0, INCOMPLETE, note="unfinished multipart upload")
                for u in answer.get("Uploads", [])]

    # -- fetch, delete, cleanup -----------------------------------------------------------------
    def fetch(self, copy: RemoteCopy, directory: Path, deadline: float) -> Path:
        """Download a good copy into ``directory`` under the name it was listed with; its size and SHA-256
        must match its record, re-read now and re-checked against the listing (the bucket may change)."""
        record = self._record(copy.ref + RECORD_SUFFIX, fresh=True)  # never trust a listing made earlier
        listed = copy.ref[len(self.prefix):]
        if record.copy != listed or record.archive != copy.archive:
            raise RemoteIntegrityError(
                f"offsite target {self.name!r}: the record of {listed} changed since it was listed: it names the "
                f"copy {record.copy[:120]!r} of {record.archive[:80]!r}: refused, nothing written",
                hint="someone is writing the bucket: check its access and object versions")
        target = child_path(directory, listed)
        if target is None:
            raise RemoteIntegrityError(f"offsite target {self.name!r}: the copy name {listed[:120]!r} is not a plain "
                                       f"file name inside {directory}: refused, nothing written")
        unlink_quietly(target)
        try:
            with self._errors(f"download {copy.ref}"), open(create_private(target), "wb", closefd=True) as out:
                body = self.client.get_object(Bucket=self.bucket, Key=copy.ref)["Body"]
                digest, count = _hash_stream(body, deadline, f"downloading {copy.ref}", out)
        except BaseException:
            unlink_quietly(target)
            raise
        if count != record.bytes or digest != record.sha256:
            unlink_quietly(target)
            raise RemoteIntegrityError(
                f"offsite target {self.name!r}: {copy.ref} is {count} bytes with sha256 {digest[:12]}…, its "
                f"record says {record.bytes} bytes with {record.sha256[:12]}…: changed since it was pushed "
                "(tampered or corrupt)", hint="pull an older copy, or check the bucket's object versions")
        return target

    def delete(self, copy: RemoteCopy) -> None:
        """Remove a copy: its record first, so a half-deleted copy is never good."""
        with self._errors(f"delete {copy.ref}"):
            if "?uploadId=" in copy.ref:
                key, upload_id = copy.ref.split("?uploadId=", 1)
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                return
            if not copy.ref.endswith(RECORD_SUFFIX) and not copy.ref.startswith(self.prefix + INCOMING):
                self.client.delete_object(Bucket=self.bucket, Key=copy.ref + RECORD_SUFFIX)
            self.client.delete_object(Bucket=self.bucket, Key=copy.ref)

    def stale(self, copies: list[RemoteCopy], now: datetime) -> list[RemoteCopy]:
        """Debris older than STALE_AFTER: temp keys and unfinished uploads of pushes that died."""
        cutoff = now - STALE_AFTER
        stale: list[RemoteCopy] = []
        for item in self._objects(self.prefix + INCOMING):
            if item["LastModified"] < cutoff:
                stale.extend(c for c in copies if c.ref == item["Key"])
        with self._errors("list unfinished uploads"):
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix + INCOMING)
        for upload in uploads.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                ref = f"{upload['Key']}?uploadId={upload['UploadId']}"
                stale.extend(c for c in copies if c.ref == ref)
        return stale


def _check_deadline(deadline: float, doing: str) -> None:
    if time.monotonic() > deadline:
        raise DeadlineExceeded(f"the offsite deadline passed while {doing}", hint="raise the target's timeout")


def _hash_stream(body: Any, deadline: float, doing: str, out: IO[bytes] | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    while chunk := body.read(_CHUNK):
        _check_deadline(deadline, doing)
        digest.update(chunk)
        count += len(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest(), count
