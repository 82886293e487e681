"""``push``: copy one verified archive to every configured target, then apply remote retention.

Targets are independent: one failing does not stop the others, and its error is reported
with its own exit code. A push never deletes or changes anything local. Retention runs on a
target only after a push to it succeeded, with the same pure rules as local rotation
(:mod:`dr_lib.archive.rotation`) over the target's *good* copies, plus removal of debris
(interrupted uploads) older than an hour.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.rotation import RotationPolicy, plan_rotation
from dr_lib.archive.sidecar import read_sidecar
from dr_lib.atomic import sha256_file
from dr_lib.config import OffsiteConfig, OffsiteTargetConfig, duration_seconds
from dr_lib.errors import DRError, IntegrityError, RemoteMissing, UsageError
from dr_lib.offsite.model import LocalArchive, PushOutcome, RemoteCopy
from dr_lib.offsite.targets import Target, open_target, selected


@dataclass(frozen=True)
class RetentionResult:
    target: str
    deleted: tuple[str, ...]  # archives whose good copy was removed by the rotation rules
    debris: tuple[str, ...]  # refs of stale incomplete uploads removed
    kept: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": list(self.deleted), "debris": list(self.debris), "kept": list(self.kept)}


@dataclass(frozen=True)
class TargetReport:
    target: str
    outcome: PushOutcome | None = None
    error: DRError | None = None
    retention: RetentionResult | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0  # the whole attempt: listing, push, retention
    remote_good: int | None = None  # good copies on the target afterwards; None: unknown (the push failed)
    retention_error: str = ""  # retention was asked for and failed (the push itself succeeded)

    @property
    def retention_state(self) -> str:
        """``applied``, ``failed`` or ``skipped`` (``--no-retention``, or no push to apply it after)."""
        return "applied" if self.retention is not None else "failed" if self.retention_error else "skipped"

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.error is None,
                "push": None if self.outcome is None else self.outcome.to_dict(),
                "error": None if self.error is None else str(self.error),
                "exit_code": None if self.error is None else self.error.exit_code,
                "retention": None if self.retention is None else self.retention.to_dict(),
                "remote_good": self.remote_good, "seconds": round(self.seconds, 3),
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class PushReport:
    archive: LocalArchive
    reports: tuple[TargetReport, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def failures(self) -> list[TargetReport]:
        return [r for r in self.reports if r.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return {"archive": self.archive.name, "path": str(self.archive.path), "sha256": self.archive.sha256,
                "bytes": self.archive.bytes, "objects": self.archive.objects, "ok": not self.failures,
                "targets": [r.to_dict() for r in self.reports], "seconds": round(self.seconds, 3)}


def local_archive(path: Path) -> LocalArchive:
    """The archive at ``path`` (a link is followed), proven unchanged since its verification."""
    real = path.resolve()
    created = fmt.archive_time(real.name)
    if created is None:
        raise UsageError(f"{str(path)!r} is not an archive: accepted are k3s-dr-<time>.tar.gz files")
    if not real.is_file():
        raise UsageError(f"the archive {str(path)!r} does not exist")
    sha256 = sha256_file(real)
    sidecar = read_sidecar(real)
    if sidecar is not None and sidecar.archive == real.name:
        if sidecar.sha256 != sha256:
            raise IntegrityError(f"{real.name} changed after it was verified (sha256 differs from its sidecar)",
                                 hint=f"run `k3s-dr verify {real}`")
        return LocalArchive(real, sha256, real.stat().st_size, sidecar.objects, created)
    result = verify_archive(real)
    return LocalArchive(real, result.sha256, result.bytes, result.objects, created)


def plan_retention(copies: Sequence[RemoteCopy], config: OffsiteTargetConfig, *, now: datetime,
                   protect: str | None) -> list[RemoteCopy]:
    """The good copies the rotation rules delete (pure)."""
    good = [c for c in copies if c.good]
    records = [r for r in (c.rotation_record() for c in good) if r is not None]
    policy = RotationPolicy(config.keep, config.keep_daily, config.keep_weekly)
    plan = plan_rotation(records, policy, now=now, protected={protect: "just pushed"} if protect else None)
    doomed = set(plan.delete)
    return [c for c in good if c.archive in doomed]


def apply_retention(target: Target, config: OffsiteTargetConfig, *, now: datetime, deadline: float,
                    protect: str | None) -> RetentionResult:
    copies = target.list_copies(deadline)
    doomed = plan_retention(copies, config, now=now, protect=protect)
    debris = target.debris(copies, now)
    target.delete_many([*doomed, *debris], deadline)
    gone = {c.archive for c in doomed}
    kept = tuple(sorted({c.archive for c in copies if c.good} - gone, reverse=True))
    return RetentionResult(target.name, tuple(sorted(gone, reverse=True)), tuple(c.ref for c in debris), kept)


def _present(target: Target, archive: LocalArchive, deadline: float) -> tuple[RemoteCopy | None, int]:
    """A good copy of ``archive`` already on the target, and how many good copies it holds."""
    try:
        copies = target.list_copies(deadline)
    except RemoteMissing:
        return None, 0  # a restic repository not created yet; a missing bucket fails the push itself, clearly
    good = [c for c in copies if c.good]
    there = next((c for c in good if c.record is not None and c.record.archive_sha256 == archive.sha256), None)
    return there, len(good)


def push_one(name: str, offsite: OffsiteConfig, archive: LocalArchive, *, now: datetime,
             work_dir: Path | None, retention: bool) -> TargetReport:
    config = offsite.targets[name]
    deadline = time.monotonic() + duration_seconds(config.timeout)
    started = time.monotonic()
    try:
        target = open_target(name, offsite, work_dir)
        there, good = _present(target, archive, deadline)
        outcome = target.push(archive, deadline) if there is None else PushOutcome(
            name, target.kind, archive.name, there.ref, "present", 0, there.bytes, time.monotonic() - started,
            bool(there.record and there.record.encryption))
    except DRError as exc:
        return TargetReport(name, error=exc, seconds=time.monotonic() - started)
    after = good + (1 if there is None else 0)
    if not retention:
        return TargetReport(name, outcome, seconds=time.monotonic() - started, remote_good=after)
    try:
        kept = apply_retention(target, config, now=now, deadline=deadline, protect=archive.name)
    except DRError as exc:
        return TargetReport(name, outcome, warnings=(f"pushed, but retention failed: {exc}",),
                            seconds=time.monotonic() - started, remote_good=after, retention_error=str(exc))
    return TargetReport(name, outcome, retention=kept, seconds=time.monotonic() - started, remote_good=len(kept.kept))


def push_archive(path: Path, offsite: OffsiteConfig, target: str | None, *, now: datetime,
                 work_dir: Path | None = None, retention: bool = True) -> PushReport:
    started = time.monotonic()
    names = [name for name, _config in selected(offsite, target)]
    archive = local_archive(path)
    reports = tuple(push_one(name, offsite, archive, now=now, work_dir=work_dir, retention=retention)
                    for name in names)
    return PushReport(archive, reports, time.monotonic() - started)
