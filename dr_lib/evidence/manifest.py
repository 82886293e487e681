"""A report's seal checked: ``SHA256SUMS`` (:mod:`dr_lib.reportdir`) and, later, its signature.

Checksums prove the files are the ones listed when the report was sealed. They do not prove who
sealed them: whoever can edit a report can regenerate its ``SHA256SUMS``. A signature over
``SHA256SUMS`` (``SHA256SUMS.sig`` beside it, made with the archive signing key) closes that gap;
:func:`verify_seal` takes the signature check as a function so the signing code plugs in here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dr_lib.reportdir import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    SIGNATURE_NAME,
    Unreadable,
    check_manifest,
    read_bounded,
    regular_file,
)

INTACT = "verified"
TAMPERED = "tampered"
UNSEALED = "unsealed"


@dataclass(frozen=True)
class SignatureVerdict:
    valid: bool
    signer: str = ""
    detail: str = ""


# (the bytes of SHA256SUMS, the bytes of SHA256SUMS.sig) → verdict. Supplied by the signing code.
SignatureCheck = Callable[[bytes, bytes], SignatureVerdict]


@dataclass(frozen=True)
class Seal:
    status: str  # verified | tampered | unsealed
    problems: tuple[str, ...] = ()
    signature: str = "none"  # none | not checked | valid | invalid
    signer: str = ""

    @property
    def intact(self) -> bool:
        return self.status == INTACT

    def describe(self) -> str:
        if self.status == UNSEALED:
            return f"unsealed: no {MANIFEST_NAME}"
        if self.status == TAMPERED:
            return "TAMPERED: " + "; ".join(self.problems[:5]) + ("; …" if len(self.problems) > 5 else "")
        signed = {"valid": f", signature valid: signed by {self.signer or 'a trusted key'}",
                  "not checked": ", signature present but not checked (no verify key)",
                  "none": f", unsigned (no {SIGNATURE_NAME})"}.get(self.signature, "")
        return f"checksums verified{signed}"

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "problems": list(self.problems), "signature": self.signature,
                "signer": self.signer, "text": self.describe()}


def verify_seal(directory: Path, check_signature: SignatureCheck | None = None) -> Seal:
    """The report's seal, checked: every checksum, nothing unlisted, and the signature when a
    check for it is given (without one, a signature file is reported as not checked)."""
    if regular_file(directory, directory / MANIFEST_NAME) == "missing":
        return Seal(UNSEALED)
    problems = check_manifest(directory)
    signature, signer = "none", ""
    sig_path = directory / SIGNATURE_NAME
    if regular_file(directory, sig_path) != "missing":
        signature = "not checked"
        if check_signature is not None:
            try:
                verdict = check_signature(read_bounded(directory, directory / MANIFEST_NAME, MAX_MANIFEST_BYTES),
                                          read_bounded(directory, sig_path, MAX_MANIFEST_BYTES))
            except Unreadable as exc:
                verdict = SignatureVerdict(False, detail=str(exc))
            signature, signer = ("valid", verdict.signer) if verdict.valid else ("invalid", "")
            if not verdict.valid:
                problems.append(f"{SIGNATURE_NAME} does not match: {verdict.detail or 'invalid signature'}")
    return Seal(TAMPERED if problems else INTACT, tuple(problems), signature, signer)
