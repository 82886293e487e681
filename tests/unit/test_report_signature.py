"""Signed report seals: `k3s-dr report verify DIR --verify-key FILE` checks the signature, then every sum.
Regenerated checksums after an edit no longer pass: that is what plain checksums could not give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dr_lib.cli.main import main
from dr_lib.reportdir import MANIFEST_NAME, SIGNATURE_NAME, seal_report, write_manifest
from dr_lib.signing.keys import KeyFiles, generate_keypair, load_signing_key


@pytest.fixture
def pair(tmp_path: Path) -> KeyFiles:
    return generate_keypair(tmp_path / "keys")


def report(tmp_path: Path, pair: KeyFiles | None) -> Path:
    directory = tmp_path / "reports" / "20261204T120000Z-abc123"
    directory.mkdir(parents=True)
    (directory / "evidence.json").write_text(json.dumps({"verdict": "pass", "rto_seconds": 120}) + "\n")
    (directory / "report.html").write_text("<html>pass</html>\n")
    seal_report(directory, None if pair is None else load_signing_key(pair.signing_key))
    return directory


def test_a_signed_report_verifies_and_says_who_sealed_it(tmp_path: Path, pair: KeyFiles, capsys) -> None:
    directory = report(tmp_path, pair)
    assert (directory / SIGNATURE_NAME).exists()
    assert main(["report", "verify", str(directory), "--verify-key", str(pair.verify_key), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["status"], data["signature"], data["signer"]) == ("verified", "valid", pair.key_id)
    assert data["verify_keys"] == [pair.key_id]


def test_an_edited_report_with_regenerated_checksums_fails(tmp_path: Path, pair: KeyFiles, capsys) -> None:
    directory = report(tmp_path, pair)
    (directory / "evidence.json").write_text(json.dumps({"verdict": "pass", "rto_seconds": 60}) + "\n")
    write_manifest(directory)  # what someone without the key can do: the checksums verify again
    assert main(["report", "verify", str(directory), "--json"]) == 0  # without a key: checksums only
    capsys.readouterr()
    assert main(["report", "verify", str(directory), "--verify-key", str(pair.verify_key), "--json"]) == 8
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "tampered" and data["signature"] == "invalid"
    assert any("SHA256SUMS.sig does not match" in p and "does not match the signed bytes" in p
               for p in data["problems"])


def test_an_unsigned_report_fails_when_a_verify_key_is_given(tmp_path: Path, pair: KeyFiles, capsys) -> None:
    directory = report(tmp_path, None)
    assert main(["report", "verify", str(directory), "--verify-key", str(pair.verify_key)]) == 8
    assert "is not signed by a verify key given" in capsys.readouterr().err


def test_a_report_signed_by_another_key_or_with_an_archive_signature_fails(tmp_path: Path, pair: KeyFiles) -> None:
    directory = report(tmp_path, generate_keypair(tmp_path / "other"))
    assert main(["report", "verify", str(directory), "--verify-key", str(pair.verify_key)]) == 8
    # an archive's manifest signature over the same bytes is no report signature (domain separation)
    from dr_lib.signing.verify import sign  # noqa: PLC0415

    key = load_signing_key(pair.signing_key)
    (directory / SIGNATURE_NAME).write_bytes(sign((directory / MANIFEST_NAME).read_bytes(), key, "manifest.json"))
    assert main(["report", "verify", str(directory), "--verify-key", str(pair.verify_key)]) == 8


def test_the_text_line_says_what_was_checked(tmp_path: Path, pair: KeyFiles, capsys) -> None:
    signed = report(tmp_path / "a", pair)
    assert main(["report", "verify", str(signed), "--verify-key", str(pair.verify_key)]) == 0
    assert capsys.readouterr().out == (f"{signed}: checksums verified, signature valid: signed by {pair.key_id} "
                                       f"(verify keys: {pair.key_id})\n")
    assert main(["report", "verify", str(signed)]) == 0  # no key given or configured
    assert capsys.readouterr().out == (f"{signed}: checksums verified, signature present but not checked "
                                       "(no verify key)\n")
    unsigned = report(tmp_path / "b", None)
    assert main(["report", "verify", str(unsigned)]) == 0
    assert capsys.readouterr().out == f"{unsigned}: checksums verified, unsigned (no SHA256SUMS.sig)\n"
