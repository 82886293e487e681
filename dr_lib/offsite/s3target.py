"""A whole push to S3: encrypt (when recipients are set), upload, read back, publish."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.atomic import sha256_file
from dr_lib.clock import utc_now
from dr_lib.config import OffsiteTargetConfig
from dr_lib.datarepo.restic import ResticRepo
from dr_lib.errors import UsageError
from dr_lib.offsite.crypto import ENCRYPTED_SUFFIX, SCHEME, encrypt_file, parse_recipients
from dr_lib.offsite.model import CopyRecord, LocalArchive, PushOutcome, RemoteCopy
from dr_lib.offsite.restic_errors import aws_env
from dr_lib.offsite.s3 import PART_SIZE, S3Bucket

DATA_PREFIX = "data"  # the data repository's objects: under <prefix>data/, never taken for copies (they have a '/')


class S3Offsite(S3Bucket):
    kind = "s3"

    def __init__(self, name: str, config: OffsiteTargetConfig, *,
                 recipients: Sequence[str] | Callable[[], Sequence[str]] = (), work_dir: Path | None = None,
                 client: Any = None, part_size: int = PART_SIZE) -> None:
        super().__init__(name, config, client=client, part_size=part_size)
        self._recipients = recipients  # a function: the offsite policy, judged when a push needs it
        self.recipients: tuple[str, ...] = ()
        self.work_dir = work_dir

    def push(self, archive: LocalArchive, deadline: float) -> PushOutcome:
        started = time.monotonic()
        self.recipients = tuple(self._recipients() if callable(self._recipients) else self._recipients)
        features = self.bucket_features()
        staging = Path(tempfile.mkdtemp(prefix="k3s-dr-push-", dir=self.work_dir))
        try:
            source, copy_name = self._sealed(archive, staging)
            sha256, size = sha256_file(source), source.stat().st_size
            temp_key, sent = self.upload(source, copy_name, deadline)
            self.read_back(temp_key, size, sha256, deadline)
            record = CopyRecord(archive.name, copy_name, sha256, size, archive.sha256, archive.bytes, archive.objects,
                                {"scheme": SCHEME, "recipients": list(self.recipients)} if self.recipients else None,
                                fmt.format_time(utc_now()))
            published = self.publish(temp_key, copy_name, record)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return PushOutcome(self.name, self.kind, archive.name, published["key"], "pushed", sent, size,
                           time.monotonic() - started, bool(self.recipients), features | published)

    def _sealed(self, archive: LocalArchive, staging: Path) -> tuple[Path, str]:
        """The file to upload and its remote name: an encrypted copy when recipients are set."""
        if not self.recipients:
            plain = staging / archive.name
            shutil.copyfile(archive.path, plain)  # a private snapshot: rotation may remove the original meanwhile
            return plain, archive.name
        sealed = staging / (archive.name + ENCRYPTED_SUFFIX)
        encrypt_file(archive.path, sealed, parse_recipients(self.recipients))
        return sealed, sealed.name

    def data_repo(self, key_file: Path | None) -> ResticRepo:
        """Where the archives' application data goes: a restic repository under ``<prefix>data`` of the bucket,
        opened with the key the archives carry (only who can read an archive can read its data)."""
        endpoint = (self.config.endpoint_url or "s3.amazonaws.com").rstrip("/")
        if key_file is None:
            raise UsageError(f"offsite target {self.name!r}: its data repository opens only with an archive's key")
        return ResticRepo(f"s3:{endpoint}/{self.bucket}/{self.prefix}{DATA_PREFIX}", key_file,
                          f"offsite target {self.name!r} (s3://{self.bucket}/{self.prefix}{DATA_PREFIX})",
                          env=aws_env(self.config), cache=True)

    def delete_many(self, copies: Sequence[RemoteCopy], deadline: float) -> None:
        for copy in copies:
            if time.monotonic() > deadline:
                break
            self.delete(copy)

    def debris(self, copies: list[RemoteCopy], now: datetime) -> list[RemoteCopy]:
        return self.stale(copies, now)
