"""Verdicts on archive signatures, from the verification records and the verify keys (pure).

The probe runs the host's python3 with the standard library only: it cannot check an Ed25519
signature. It does not need to: every verification k3s-dr makes (the backup's own, ``verify``,
``pull``) records its verdict on the signature in the archive's sidecar, beside the sha256 the
probe compares. The verify keys' ids are computed here from the key files the probe read.
"""

from __future__ import annotations

from collections.abc import Mapping

from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.signing.keyid import pem_key_id


def verify_key_ids(facts: HostFacts) -> tuple[dict[str, str], list[str]]:
    """Key id per configured verify key file, and what is wrong with the others (an auto key may be absent)."""
    ids: dict[str, str] = {}
    problems: list[str] = []
    explicit = set(facts.layout.config.trust.verify_keys) - {"auto"}
    for path in facts.layout.verify_keys:
        content, error = facts.files.files.get(path, (None, None))
        if content is None:
            if error or path in explicit:
                problems.append(f"the verify key {path} cannot be read ({error or 'it does not exist'})")
            continue
        key_id = pem_key_id(content)
        if key_id is None:
            problems.append(f"the verify key {path} is not an Ed25519 public key in PEM")
        else:
            ids[path] = key_id
    return ids, problems


def snapshot_signed(facts: HostFacts) -> Finding:
    ids, problems = verify_key_ids(facts)
    if problems:
        return failed("; ".join(problems) + ": restores that check signatures stop at it",
                      f"trust.verify_keys: {', '.join(facts.layout.verify_keys)}")
    if not ids:
        return not_applicable("no verify key is configured (trust.verify_keys): restores do not check signatures; "
                              "`k3s-dr install` makes a key pair")
    st = facts.files.stat(facts.layout.snapshot_link)
    target = facts.files.archive_at(st.resolved) if st.exists else None
    if target is None or not target.verified:
        return not_applicable("the snapshot link does not point at a verified archive: see DR-LINK-002/003")
    keys = ", ".join(sorted(set(ids.values())))
    recorded = target.sidecar.get("signature") if isinstance(target.sidecar, Mapping) else None
    if not isinstance(recorded, Mapping):
        return failed(f"the verification record of {target.name} says nothing about its signature (written before "
                      "k3s-dr signed archives): it is unsigned, or not checked since, and auto-restore may refuse it",
                      f"{st.path} → {target.name}; verify keys {keys}")
    state, key_id = str(recorded.get("state")), str(recorded.get("key_id") or "")
    evidence = f"{st.path} → {target.name}: signature {state}" + (f" (key {key_id})" if key_id else "") + \
        f"; verify keys {keys}"
    if state != "valid":
        return failed(f"the snapshot archive {target.name} is {'not signed' if state == 'missing' else state}"
                      f"{': ' + str(recorded.get('reason')) if recorded.get('reason') else ''}: auto-restore, "
                      "which checks signatures, will refuse it", evidence)
    if key_id not in ids.values():
        return failed(f"the snapshot archive {target.name} is signed by key {key_id}, which is none of the "
                      f"configured verify keys ({keys}): auto-restore will refuse it (a removed key?)", evidence)
    return passed(evidence)
