"""A report's seal: checksums verified, tampering and added files found, hostile manifests refused,
and the seam where a signature check plugs in (here a FAKE check, named so)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from dr_lib.evidence.manifest import SignatureVerdict, verify_seal
from dr_lib.reportdir import MANIFEST_NAME, SIGNATURE_NAME, check_manifest, write_manifest


def _report(tmp_path: Path) -> Path:
    directory = tmp_path / "20261128T181503Z-ab12cd"
    directory.mkdir()
    (directory / "report.html").write_text("<html></html>")
    (directory / "evidence.json").write_text('{"verdict": "fail"}')
    write_manifest(directory)
    return directory


def test_an_untouched_report_verifies_with_sha256sum_too(tmp_path: Path) -> None:
    directory = _report(tmp_path)
    seal = verify_seal(directory)
    assert seal.intact and seal.status == "verified" and seal.signature == "none"
    assert seal.describe() == "checksums verified, unsigned (no SHA256SUMS.sig)"
    done = subprocess.run(["sha256sum", "-c", MANIFEST_NAME], cwd=directory, capture_output=True, check=False)
    assert done.returncode == 0


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: (d / "evidence.json").write_text('{"verdict": "pass"}'), "evidence.json: sha256 mismatch"),
    (lambda d: (d / "added.txt").write_text("later"), "added.txt: not in SHA256SUMS"),
    (lambda d: (d / "report.html").unlink(), "report.html: missing"),
    (lambda d: (d / MANIFEST_NAME).write_text("not a checksum line\n"), "SHA256SUMS line 1 is not"),
    (lambda d: (d / MANIFEST_NAME).write_text(f"{'0' * 64}  ../../etc/passwd\n"), "names a path outside the report"),
    (lambda d: (d / MANIFEST_NAME).write_text(f"{'0' * 64}  /etc/passwd\n"), "names a path outside the report"),
    (lambda d: (d / MANIFEST_NAME).write_bytes(b"0" * (2 << 20)), "SHA256SUMS is larger than"),
], ids=["edited", "added", "removed", "malformed", "dot-dot", "absolute", "huge"])
def test_tampering_is_found_and_named(tmp_path: Path, change: Callable[[Path], object], problem: str) -> None:
    directory = _report(tmp_path)
    change(directory)
    seal = verify_seal(directory)
    assert seal.status == "tampered" and not seal.intact
    assert any(problem in p for p in seal.problems), seal.problems
    assert seal.describe().startswith("TAMPERED: ")


def test_a_listed_name_that_is_a_link_or_a_fifo_is_refused_not_followed(tmp_path: Path) -> None:
    directory = _report(tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("outside")
    (directory / "evidence.json").unlink()
    (directory / "evidence.json").symlink_to(secret)
    os.mkfifo(directory / "pipe")  # hashing a FIFO would block forever
    lines = (directory / MANIFEST_NAME).read_text() + f"{'0' * 64}  pipe\n"
    (directory / MANIFEST_NAME).write_text(lines)
    problems = check_manifest(directory)
    assert "evidence.json: is a symbolic link" in problems and "pipe: is not a regular file" in problems


def test_a_report_without_manifest_is_unsealed(tmp_path: Path) -> None:
    directory = _report(tmp_path)
    (directory / MANIFEST_NAME).unlink()
    assert verify_seal(directory).status == "unsealed"
    assert check_manifest(directory) == ["SHA256SUMS is missing"]


def test_regenerated_checksums_verify_plain_checksums_are_not_tamper_proof(tmp_path: Path) -> None:
    """What the docs say: whoever can edit a report can write a new SHA256SUMS; only a signature over
    it (the seam below) tells the difference."""
    directory = _report(tmp_path)
    (directory / "evidence.json").write_text('{"verdict": "pass"}')
    write_manifest(directory)
    assert verify_seal(directory).intact


def fake_signature_check(manifest: bytes, signature: bytes) -> SignatureVerdict:
    """FAKE signer: the 'signature' is the manifest reversed. Stands in for the archive signing key."""
    return SignatureVerdict(signature == manifest[::-1], "fake-ci-key", "" if signature == manifest[::-1] else "bad")


def test_the_signature_seam(tmp_path: Path) -> None:
    directory = _report(tmp_path)
    (directory / SIGNATURE_NAME).write_bytes((directory / MANIFEST_NAME).read_bytes()[::-1])
    unchecked = verify_seal(directory)
    assert unchecked.intact and unchecked.signature == "not checked" and "not checked" in unchecked.describe()
    signed = verify_seal(directory, fake_signature_check)
    assert signed.intact and signed.signature == "valid" and "signed by fake-ci-key" in signed.describe()
    # edit the evidence and regenerate the checksums: the signature no longer matches
    (directory / "evidence.json").write_text('{"verdict": "pass"}')
    write_manifest(directory)
    forged = verify_seal(directory, fake_signature_check)
    assert forged.status == "tampered" and forged.signature == "invalid"
    assert f"{SIGNATURE_NAME} does not match: bad" in forged.problems
    assert SIGNATURE_NAME not in (directory / MANIFEST_NAME).read_text()
