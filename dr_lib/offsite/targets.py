"""Offsite targets by name, from ``offsite.targets`` in the config: checked, then opened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dr_lib.config import OffsiteConfig, OffsiteTargetConfig
from dr_lib.errors import ConfigError, ExtraMissing, UsageError
from dr_lib.offsite.crypto import parse_recipients, recipient_list
from dr_lib.offsite.model import LocalArchive, PushOutcome, RemoteCopy

# What each type of target needs besides the common keys: (key, accepted). Rules as data.
REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "s3": (("bucket", "an S3 bucket name: an s3 target stores its copies there"),),
    "restic": (("repository", "a restic repository: a restic target stores its snapshots there"),
               ("password_file", "an absolute path of the file with the repository password (restic needs it)")),
}


class Target(Protocol):
    name: str
    kind: str

    @property
    def where(self) -> str: ...

    def list_copies(self, deadline: float | None = None) -> list[RemoteCopy]: ...
    def push(self, archive: LocalArchive, deadline: float) -> PushOutcome: ...
    def fetch(self, copy: RemoteCopy, directory: Path, deadline: float) -> Path: ...
    def delete_many(self, copies: Sequence[RemoteCopy], deadline: float) -> None: ...
    def debris(self, copies: list[RemoteCopy], now: datetime) -> list[RemoteCopy]: ...


def check_target(name: str, target: OffsiteTargetConfig) -> None:
    for key, accepted in REQUIRED[target.type]:
        if not getattr(target, key):
            raise ConfigError(f"offsite.targets.{name}.{key}", "", accepted)


def recipients_for(offsite: OffsiteConfig) -> tuple[str, ...]:
    """The recipients archives are encrypted for, by ``offsite.encrypt``; () means plain copies."""
    recipients = recipient_list(offsite.recipients)
    if offsite.encrypt == "off":
        return ()
    if offsite.encrypt == "required" and not recipients:
        raise ConfigError("offsite.recipients", [], "at least one age recipient while offsite.encrypt is required")
    parse_recipients(recipients)  # a bad one fails here, before anything is uploaded
    return recipients


def selected(offsite: OffsiteConfig, name: str | None) -> list[tuple[str, OffsiteTargetConfig]]:
    if not offsite.targets:
        raise UsageError("no offsite targets are configured", hint="add offsite.targets.<name> to the config")
    if name is None:
        return sorted(offsite.targets.items())
    if name not in offsite.targets:
        raise UsageError(f"offsite target {name!r} is not configured: accepted is one of "
                         f"{', '.join(sorted(offsite.targets))}")
    return [(name, offsite.targets[name])]


def open_target(name: str, offsite: OffsiteConfig, work_dir: Path | None = None) -> Target:
    target = offsite.targets[name]
    check_target(name, target)
    if target.type == "restic":
        from dr_lib.offsite.restic import ResticTarget  # noqa: PLC0415 - restic targets only

        return ResticTarget(name, target, work_dir=work_dir)
    try:
        from dr_lib.offsite.s3target import S3Offsite  # noqa: PLC0415 - imports boto3 (slow): S3 targets only
    except ModuleNotFoundError as exc:
        raise s3_extra_missing(exc, f"offsite target {name!r} (type s3)") from None
    return S3Offsite(name, target, recipients=recipients_for(offsite), work_dir=work_dir)


S3_EXTRA = "s3"
S3_MODULES = ("boto3", "botocore", "s3transfer")


def s3_extra_missing(exc: ModuleNotFoundError, needed_by: str) -> ExtraMissing:
    """The one line for S3 without boto3 (the ``s3`` extra); any other missing module is a packaging bug."""
    missing = (exc.name or "").split(".")[0]
    if missing not in S3_MODULES:
        raise exc
    return ExtraMissing(f"{needed_by} needs {missing}, which is not installed", extra=S3_EXTRA)
