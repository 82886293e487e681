"""Verdicts on what the snapshot link's archive holds, from the verification records (pure).

A backup of a wiped cluster is a valid, verified archive: every other control passes on it, and
auto-restore then decides at boot that "the snapshot holds no user objects". The sidecar of each
archive records its user objects (counted when k3s-dr verified it, by ``dr_lib.archive.userobjects``);
an archive with none behind the snapshot link while an older one has some is the wipe the shrink
guard exists to stop, promoted anyway (``--allow-shrink``, a link moved by hand, an older k3s-dr).
"""

from __future__ import annotations

from collections.abc import Mapping

from dr_lib.checks.hostfacts import ArchiveFacts, HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed


def recorded_user_objects(archive: ArchiveFacts) -> int | None:
    """The user objects its verification record holds; None when it records none (older sidecars)."""
    sidecar = archive.sidecar
    value = sidecar.get("user_objects") if isinstance(sidecar, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _older_with_user_objects(facts: HostFacts, target: ArchiveFacts) -> tuple[ArchiveFacts, int] | None:
    archives = facts.files.archives  # newest first
    older = archives[archives.index(target) + 1:]
    counted = ((a, recorded_user_objects(a)) for a in older if a.claims_verified)
    return next(((a, n) for a, n in counted if n), None)


def snapshot_holds_user_objects(facts: HostFacts) -> Finding:
    st = facts.files.stat(facts.layout.snapshot_link)
    if not st.exists:
        return not_applicable("the snapshot link is missing or dangling: see DR-LINK-002")
    target = facts.files.archive_at(st.resolved)
    if target is None or not target.verified:
        return not_applicable("the snapshot link does not point at a verified archive: see DR-LINK-003")
    count = recorded_user_objects(target)
    if count is None:
        return not_applicable(f"the verification record of {target.name} counts no user objects (written before "
                              f"k3s-dr counted them): `k3s-dr verify {target.path}` records them")
    evidence = f"{st.path} → {target.name}: {count} user objects (its verification record)"
    if count > 0:
        return passed(evidence)
    older = _older_with_user_objects(facts, target)
    if older is None:
        return passed(f"{evidence}; no older archive holds any either (an empty cluster)")
    archive, held = older
    return failed(f"the snapshot link points at {target.name}, which holds no user objects, while the older "
                  f"{archive.name} holds {held}: auto-restore would find nothing to bring back (a backup of a "
                  "wiped cluster promoted?)", f"{evidence}; {archive.name}: {held} user objects")
