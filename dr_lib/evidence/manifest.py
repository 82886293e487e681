"""A report's seal: ``SHA256SUMS`` (the format ``sha256sum -c`` reads) and, later, its signature.

Checksums prove the files are the ones listed when the report was sealed. They do not prove who
sealed them: whoever can edit a report can regenerate its ``SHA256SUMS``. A signature over
``SHA256SUMS`` (``SHA256SUMS.sig`` beside it, made with the archive signing key) closes that gap;
:func:`verify_seal` takes the signature check as a function so the signing code plugs in here.

The manifest itself is untrusted when read back: every line must be ``<sha256>  <name>``, every
name a plain file inside the report directory (no ``..``, no links, nothing outside).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dr_lib.atomic import sha256_file
from dr_lib.evidence.files import Unreadable, read_bounded, regular_file, write_file

MANIFEST_NAME = "SHA256SUMS"
SIGNATURE_NAME = "SHA256SUMS.sig"  # the seam for the archive signing key (not written by k3s-dr yet)
MAX_MANIFEST_BYTES = 1 << 20
_LINE = re.compile(r"(?P<digest>[0-9a-f]{64}) [ *](?P<name>.+)")

INTACT = "verified"
TAMPERED = "tampered"
UNSEALED = "unsealed"


def report_files(directory: Path) -> list[Path]:
    """Every regular file of the report, seal and temporaries excluded, in a stable order."""
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.name not in (MANIFEST_NAME, SIGNATURE_NAME)
                  and not p.name.startswith("."))


def write_manifest(directory: Path) -> Path:
    lines = [f"{sha256_file(p)}  {p.relative_to(directory).as_posix()}\n" for p in report_files(directory)]
    return write_file(directory / MANIFEST_NAME, "".join(lines))


def _listed(directory: Path, manifest: bytes) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(manifest.decode("utf-8", errors="replace").splitlines(), start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"{MANIFEST_NAME} line {number} is not '<sha256>  <file>'")
            continue
        name = match["name"]
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or not parts:
            problems.append(f"{MANIFEST_NAME} line {number} names a path outside the report: {name[:100]!r}")
        elif name in listed:
            problems.append(f"{name}: listed twice in {MANIFEST_NAME}")
        else:
            listed[name] = match["digest"]
    return listed, problems


def check_manifest(directory: Path) -> list[str]:
    """Problems with the manifest (empty: every file listed and intact, nothing unlisted)."""
    if regular_file(directory, directory / MANIFEST_NAME) == "missing":
        return [f"{MANIFEST_NAME} is missing"]
    try:
        manifest = read_bounded(directory, directory / MANIFEST_NAME, MAX_MANIFEST_BYTES)
    except Unreadable as exc:
        return [str(exc)]
    listed, problems = _listed(directory, manifest)
    for name, digest in listed.items():
        problem = regular_file(directory, directory / name)
        if problem is not None:
            problems.append(f"{name}: {problem}")
        elif sha256_file(directory / name) != digest:
            problems.append(f"{name}: sha256 mismatch")
    present = {p.relative_to(directory).as_posix() for p in report_files(directory)}
    problems += [f"{name}: not in {MANIFEST_NAME}" for name in sorted(present - set(listed))]
    return problems


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
            return "unsealed: no SHA256SUMS"
        if self.status == TAMPERED:
            return "TAMPERED: " + "; ".join(self.problems[:5]) + ("; …" if len(self.problems) > 5 else "")
        signed = {"valid": f", signed by {self.signer or 'a trusted key'}",
                  "not checked": ", signature present but not checked (no verify key)"}.get(self.signature, "")
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
