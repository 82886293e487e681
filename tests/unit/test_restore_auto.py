"""Table-driven tests of the pure auto-restore decision."""

from __future__ import annotations

import pytest

from dr_lib.restore.auto import AutoState, Observation, decide, is_user_object
from dr_lib.restore.plan import ObjectKey, PlannedObject, TypeRef

SNAP = "a" * 64
OTHER_SNAP = "b" * 64
UID = "uid-1"
NEW_UID = "uid-2"
RESTORED_BOOT1 = AutoState("boot-1", SNAP, UID, present_after=100, restored_at="2026-11-28T08:00:00Z")


def seen(present: int, *, boot: str = "boot-2", snap: str = SNAP, uid: str = UID, total: int = 100) -> Observation:
    return Observation(boot, snap, total, present, uid)


# (case, observation, last state, force, restore?, reason fragment)
CASES: list[tuple[str, Observation, AutoState, bool, bool, str]] = [
    ("healthy cluster: no restore", seen(100), AutoState(), False, False, "cluster healthy"),
    ("small loss below threshold", seen(60), AutoState(), False, False, "below the threshold"),
    ("wiped: restore", seen(0), AutoState(), False, True, "objects lost"),
    ("at the threshold: restore", seen(50), AutoState(), False, True, "objects lost"),
    ("no snapshot", seen(0, snap=""), AutoState(), False, False, "no snapshot"),
    ("snapshot without user objects", seen(0, total=0), AutoState(), False, False, "no user objects"),
    ("wiped again the same day, after a reboot (new datastore): restore",
     seen(0, boot="boot-2", uid=NEW_UID), RESTORED_BOOT1, False, True, "objects lost"),
    ("wiped again without datastore loss (objects deleted): restore",
     seen(10, boot="boot-2"), RESTORED_BOOT1, False, True, "objects lost"),
    ("unit restarted in the same boot after restoring: no restore",
     seen(0, boot="boot-1", uid=NEW_UID), RESTORED_BOOT1, False, False, "at most one per boot"),
    ("rebooted, no new wipe, healthy: no restore", seen(100, boot="boot-3"), RESTORED_BOOT1, False, False,
     "cluster healthy"),
    ("rebooted after a partial restore, nothing lost since: no second restore of that snapshot",
     seen(30, boot="boot-3"), AutoState("boot-1", SNAP, UID, present_after=30, restored_at="t"), False, False,
     "already restored into this cluster"),
    ("a newer snapshot after a partial restore: restore",
     seen(30, boot="boot-3", snap=OTHER_SNAP), AutoState("boot-1", SNAP, UID, present_after=30, restored_at="t"),
     False, True, "objects lost"),
    ("--force on a healthy cluster", seen(100, boot="boot-1"), RESTORED_BOOT1, True, True, "forced"),
]


@pytest.mark.parametrize(("observation", "last", "force", "restore", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide(observation: Observation, last: AutoState, force: bool, restore: bool, reason: str) -> None:
    decision = decide(observation, last, 0.5, force=force)
    assert decision.restore is restore
    assert reason in decision.reason


def test_no_more_than_5_deployments_rule_is_gone() -> None:
    # The seed skipped whenever the cluster had more than 5 deployments: a large healthy
    # cluster and a large wiped one must be told apart by loss alone.
    assert decide(seen(0, total=5000), AutoState(), 0.5).restore is True
    assert decide(seen(5000, total=5000), AutoState(), 0.5).restore is False


def _planned(resource: str, namespace: str, name: str) -> PlannedObject:
    plural, _, group = resource.partition(".")
    type_ref = TypeRef(group, "v1", plural, plural.title().rstrip("s"), bool(namespace))
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return PlannedObject(type_ref, {"apiVersion": type_ref.api_version, "kind": type_ref.kind, "metadata": meta})


@pytest.mark.parametrize(("key", "user"), [
    (ObjectKey("namespaces", "", "default"), False),
    (ObjectKey("namespaces", "", "shop"), True),
    (ObjectKey("serviceaccounts", "shop", "default"), False),
    (ObjectKey("serviceaccounts", "shop", "builder"), True),
    (ObjectKey("configmaps", "kube-system", "coredns-custom"), False),
    (ObjectKey("configmaps", "default", "app"), True),
    (ObjectKey("clusterroles.rbac.authorization.k8s.io", "", "mine"), True),
    (ObjectKey("clusterroles.rbac.authorization.k8s.io", "", "system:coredns"), False),
])
def test_user_objects(key: ObjectKey, user: bool) -> None:
    planned = _planned(key.resource, key.namespace, key.name)
    assert planned.key == key
    assert is_user_object(planned) is user


def test_state_round_trip_and_garbage() -> None:
    assert AutoState.from_dict({"last_restore": RESTORED_BOOT1.to_dict()}) == RESTORED_BOOT1
    assert AutoState.from_dict("garbage") == AutoState()
    assert AutoState.from_dict({"last_restore": None}) == AutoState()
