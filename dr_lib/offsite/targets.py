"""Offsite targets by name, from ``offsite.targets`` in the config: checked, then opened."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dr_lib.config import OffsiteConfig, OffsiteTargetConfig
from dr_lib.datarepo.restic import ResticRepo
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
    def data_repo(self, key_file: Path | None) -> ResticRepo: ...


# Hosts whose plain http stays on this machine: reading it takes root, who holds every key anyway, and a
# local endpoint is typically a gateway or a tunnel (stunnel, ssh -L) that encrypts beyond it.
LOOPBACK_HOSTS = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$")
_HTTP = re.compile(r"^(?:s3:)?http://([^/]+)")


def insecure_endpoint(target: OffsiteTargetConfig) -> str | None:
    """The plain-http endpoint (or restic repository) of ``target`` that leaves this machine, else None."""
    for value in (target.endpoint_url, target.repository):
        match = _HTTP.match(value or "")
        if match is not None and LOOPBACK_HOSTS.match(match.group(1).lower()) is None:
            return value
    return None


def check_target(name: str, target: OffsiteTargetConfig) -> None:
    for key, accepted in REQUIRED[target.type]:
        if not getattr(target, key):
            raise ConfigError(f"offsite.targets.{name}.{key}", "", accepted)
    insecure = insecure_endpoint(target)
    if insecure is not None and not target.allow_insecure_http:
        key = "endpoint_url" if insecure == target.endpoint_url else "repository"
        raise ConfigError(f"offsite.targets.{name}.{key}", insecure,
                          "an https:// endpoint (plain http only on this machine's loopback, or with "
                          f"offsite.targets.{name}.allow_insecure_http: true): credentials and copies would "
                          "cross the network in clear text")


def recipients_for(offsite: OffsiteConfig) -> tuple[str, ...]:
    """The recipients copies are encrypted for; () only with ``offsite.encrypt: off`` (plain copies).

    ``auto`` and ``required`` both need recipients to push: a plaintext copy is made (and pulled) only
    when the operator said so, never because recipients were forgotten.
    """
    recipients = recipient_list(offsite.recipients)
    if offsite.encrypt == "off":
        return ()
    if not recipients:
        raise ConfigError("offsite.recipients", [], f"at least one age recipient while offsite.encrypt is "
                          f"{offsite.encrypt} (plaintext copies only with offsite.encrypt: off)")
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
    # Recipients are needed to push, not to list or pull (a restoring host may hold only the identity).
    return S3Offsite(name, target, recipients=lambda: recipients_for(offsite), work_dir=work_dir)


S3_EXTRA = "s3"
S3_MODULES = ("boto3", "botocore", "s3transfer")


def s3_extra_missing(exc: ModuleNotFoundError, needed_by: str) -> ExtraMissing:
    """The one line for S3 without boto3 (the ``s3`` extra); any other missing module is a packaging bug."""
    missing = (exc.name or "").split(".")[0]
    if missing not in S3_MODULES:
        raise exc
    return ExtraMissing(f"{needed_by} needs {missing}, which is not installed", extra=S3_EXTRA)
