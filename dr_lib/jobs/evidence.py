"""The evidence jobs (``k3s-dr report``): the index of every drill and check report, one report's seal.

The evidence code loads only when one of them runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError, IntegrityError
from dr_lib.signing.keys import VerifyKey
from dr_lib.signing.policy import signature_policy
from dr_lib.signing.verify import check

if TYPE_CHECKING:
    from dr_lib.evidence.index import IndexResult
    from dr_lib.evidence.manifest import Seal, SignatureVerdict
    from dr_lib.evidence.reports import ReportEntry


def index_reports(directory: str) -> IndexResult:
    """Write DIRECTORY/index.html and index.csv over every report under it."""
    from dr_lib.evidence.index import write_index  # noqa: PLC0415 - see the module's docstring

    return write_index(Path(directory), utc_now())


@dataclass(frozen=True)
class ReportsSummary:
    directory: str
    entries: list[ReportEntry]

    def markdown(self) -> str:
        from dr_lib.evidence.stepsummary import summary_markdown  # noqa: PLC0415

        return summary_markdown(self.entries, f"k3s-dr reports in {self.directory}")

    def to_json(self) -> dict[str, Any]:
        from dr_lib.evidence.index import utc_text  # noqa: PLC0415
        from dr_lib.evidence.stepsummary import overall  # noqa: PLC0415

        return {"directory": self.directory, "overall": overall(self.entries), "reports": [
            {"report": e.path, "started": utc_text(e.started), "kind": e.kind, "verdict": e.verdict_text,
             "rto_seconds": e.rto_seconds, "rto_target_seconds": e.rto_target_seconds, "rpo_seconds": e.rpo_seconds,
             "rpo_target_seconds": e.rpo_target_seconds, "archive": e.archive, "archive_sha256": e.archive_sha256,
             "integrity": e.integrity, "problem": e.problem} for e in self.entries]}


def summarize_reports(directory: str) -> ReportsSummary:
    """Every report under DIRECTORY, read as the index reads it, for a short summary (nothing written)."""
    from dr_lib.evidence.scan import scan  # noqa: PLC0415

    return ReportsSummary(directory, scan(Path(directory)))


@dataclass(frozen=True)
class SealChecked:
    report: str
    seal: Seal
    key_ids: tuple[str, ...] = ()  # the verify keys it was checked against; any: a valid signature is required

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.report, **self.seal.to_json(), "verify_keys": list(self.key_ids)}

    @property
    def exit_error(self) -> DRError | None:
        if not self.seal.intact:
            return IntegrityError(f"report {self.report!r} does not verify: {self.seal.describe()}")
        if self.key_ids and self.seal.signature != "valid":
            return IntegrityError(f"report {self.report!r} is not signed by a verify key given "
                                  f"({', '.join(self.key_ids)}): its checksums alone prove nothing against "
                                  "someone who can rewrite them", hint="sign reports: trust.signing_key")
        return None


def signature_check(keys: tuple[VerifyKey, ...]) -> Callable[[bytes, bytes], SignatureVerdict]:
    """The check of ``SHA256SUMS.sig`` over ``SHA256SUMS`` by one of ``keys`` (:mod:`dr_lib.signing`)."""
    from dr_lib.evidence.manifest import SignatureVerdict  # noqa: PLC0415
    from dr_lib.reportdir import MANIFEST_NAME, SIGNATURE_NAME  # noqa: PLC0415

    def judged(manifest: bytes, signature: bytes) -> SignatureVerdict:
        verdict = check(manifest, signature, keys, MANIFEST_NAME, where=SIGNATURE_NAME)
        return SignatureVerdict(verdict.valid, verdict.key_id, verdict.reason or verdict.describe())
    return judged


def verify_report(directory: str, config: Config, verify_keys: tuple[str, ...] = ()) -> SealChecked:
    """The report's signature (by ``--verify-key`` FILEs, else trust.verify_keys; required when there are
    any), then every file in SHA256SUMS intact and nothing added; or what differs (exit 8)."""
    from dr_lib.evidence.manifest import verify_seal  # noqa: PLC0415

    keys = signature_policy(config.trust, verify_keys).keys
    seal = verify_seal(Path(directory), signature_check(keys) if keys else None)
    return SealChecked(directory, seal, tuple(k.key_id for k in keys))
