"""DR-TRUST-001: with verify keys configured, the snapshot's archive must be signed by one of them, as its
verification record says (the probe has no Ed25519: it reads the verdict k3s-dr recorded)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from _host_facts import ARCHIVE, LAYOUT, archive, healthy, with_file_content, with_files

from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.hostfacts import HostFacts, Layout
from dr_lib.checks.model import Outcome
from dr_lib.config import config_from_text
from dr_lib.signing.keys import generate_keypair

AUTO_KEY = "/etc/k3s-dr/keys/verify-key.pem"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[str, str], tuple[str, str]]:
    made = [generate_keypair(tmp_path_factory.mktemp(name)) for name in ("one", "two")]
    return tuple((m.verify_key.read_text(), m.key_id) for m in made)  # type: ignore[return-value]


def signed_host(pem: str | None, signature: dict[str, object] | None, *, trust: str = "") -> HostFacts:
    facts = healthy()
    if trust:
        facts = dataclasses.replace(facts, layout=Layout(config_from_text(trust, "test"), LAYOUT.config_path))
    sidecar = {**archive().sidecar, **({} if signature is None else {"signature": signature})}  # type: ignore[dict-item]
    facts = with_files(facts, archives=(archive(sidecar=sidecar),))
    path = facts.layout.verify_keys[0] if facts.layout.verify_keys else AUTO_KEY
    return facts if pem is None else with_file_content(facts, path, pem)


def judge(facts: HostFacts) -> tuple[Outcome, str]:
    finding = evaluate_all(facts)["DR-TRUST-001"]
    return finding.outcome, finding.problem or finding.evidence


def test_valid_by_a_configured_key_passes(keys) -> None:
    (pem, key_id), _ = keys
    outcome, text = judge(signed_host(pem, {"state": "valid", "key_id": key_id}))
    assert outcome is Outcome.PASS and f"signature valid (key {key_id})" in text


@pytest.mark.parametrize(("signature", "problem"), [
    (None, "says nothing about its signature"),
    ({"state": "missing", "key_id": None}, f"the snapshot archive {ARCHIVE} is not signed"),
    ({"state": "invalid", "key_id": "ab" * 8, "reason": "forged"}, "is invalid: forged"),
    ({"state": "unchecked", "key_id": "ab" * 8}, "is unchecked"),
])
def test_unsigned_or_invalid_snapshots_fail(keys, signature, problem: str) -> None:
    (pem, _), _ = keys
    outcome, text = judge(signed_host(pem, signature))
    assert outcome is Outcome.FAIL and problem in text and "auto-restore" in text


def test_a_signature_by_a_key_no_longer_configured_fails(keys) -> None:
    (pem, _), (_, removed) = keys
    outcome, text = judge(signed_host(pem, {"state": "valid", "key_id": removed}))
    assert outcome is Outcome.FAIL and f"signed by key {removed}, which is none of the configured" in text


def test_without_verify_keys_it_is_not_applicable() -> None:
    assert judge(signed_host(None, None))[0] is Outcome.NOT_APPLICABLE  # auto, and install made no pair
    assert judge(signed_host(None, None, trust="trust: {verify_keys: []}"))[0] is Outcome.NOT_APPLICABLE


def test_a_configured_verify_key_that_is_missing_or_not_a_key_fails(keys, tmp_path: Path) -> None:
    trust = "trust: {verify_keys: [/srv/keys/old.pem]}"
    outcome, text = judge(signed_host(None, {"state": "valid", "key_id": "ab" * 8}, trust=trust))
    assert outcome is Outcome.FAIL and "the verify key /srv/keys/old.pem cannot be read (it does not exist)" in text
    outcome, text = judge(signed_host("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                      {"state": "valid"}, trust=trust))
    assert outcome is Outcome.FAIL and "is not an Ed25519 public key" in text
