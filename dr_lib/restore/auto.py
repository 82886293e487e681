"""The auto-restore decision (pure): restore at boot only when the cluster lost its objects.

Replaces the seed's guesses ("more than 5 deployments: skip", "once a day"). The unit that
runs ``k3s-dr restore --auto`` at boot compares the live cluster with the snapshot: it
restores when the share of the snapshot's *user* objects missing live reaches the threshold
(``restore.auto_loss_threshold``), at most once per boot, and never twice for the same
snapshot unless something was lost again since the last restore (a new datastore, or fewer
objects than that restore left). ``--force`` restores regardless. Every decision carries its
reason, and the runner logs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dr_lib.archive import userobjects
from dr_lib.restore.plan import ObjectKey, Plan, PlannedObject

__all__ = ["AutoState", "Decision", "Observation", "boot_identity", "decide", "is_user_object", "user_keys"]


def is_user_object(obj: PlannedObject) -> bool:
    """Made by a user, not by the cluster itself (the one rule set: :mod:`dr_lib.archive.userobjects`)."""
    return userobjects.is_user_object(obj.type.resource, obj.body)


def user_keys(plan: Plan) -> list[ObjectKey]:
    """The user objects a restore of ``plan`` would bring back: what auto-restore measures the loss of."""
    return [obj.key for obj in plan.objects() if is_user_object(obj)]


_STARTTIME_AFTER_COMM = 19  # proc(5) field 22 (starttime), counted after "pid (comm)"


def boot_identity(kernel_boot_id: str, init_stat: str | None) -> str:
    """This boot's identity: the kernel's boot id plus the start time of init (``/proc/1/stat``).

    A host that is a container (systemd in Docker, LXC, nspawn) shares the kernel's boot id with
    its machine: it stays the same across the container's own reboots, so "at most one restore
    per boot" would refuse the restore after every later reboot. Init's start time changes with
    each boot of the container and is constant during one boot of a machine.
    """
    kernel = kernel_boot_id.strip()
    fields = (init_stat or "").rsplit(")", 1)[-1].split()
    if len(fields) <= _STARTTIME_AFTER_COMM or not fields[_STARTTIME_AFTER_COMM].isdigit():
        return kernel
    return f"{kernel}+init@{fields[_STARTTIME_AFTER_COMM]}"


@dataclass(frozen=True)
class AutoState:
    """What the last auto-restore left behind (the state file), so the next boot can judge."""

    boot_id: str = ""
    snapshot_sha256: str = ""
    cluster_uid: str = ""  # kube-system's uid right after that restore: a new datastore changes it
    present_after: int = 0  # snapshot user objects live right after that restore
    restored_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> AutoState:
        if not isinstance(data, dict):
            return cls()
        last = data.get("last_restore")
        if not isinstance(last, dict):
            return cls()
        return cls(str(last.get("boot_id", "")), str(last.get("snapshot_sha256", "")),
                   str(last.get("cluster_uid", "")), int(last.get("present_after", 0) or 0),
                   str(last.get("restored_at", "")))


@dataclass(frozen=True)
class Observation:
    boot_id: str
    snapshot_sha256: str  # "" when there is no snapshot
    user_objects: int  # user objects the snapshot would restore
    present: int  # of those, how many exist live
    cluster_uid: str

    @property
    def loss(self) -> float:
        return 0.0 if self.user_objects == 0 else (self.user_objects - self.present) / self.user_objects


@dataclass(frozen=True)
class Decision:
    restore: bool
    reason: str
    loss: float
    refused: bool = False  # the snapshot itself was not trusted (dr_lib.restore.trust) or failed verification

    def to_dict(self) -> dict[str, Any]:
        return {"restore": self.restore, "reason": self.reason, "loss": round(self.loss, 4),
                **({"refused": True} if self.refused else {})}


def decide(seen: Observation, last: AutoState, threshold: float, *, force: bool = False) -> Decision:
    """Restore or not, and why. Rules in order; the first that applies decides."""
    loss = seen.loss
    counted = f"{seen.present} of {seen.user_objects} user objects of the snapshot present ({loss:.0%} lost)"
    if force:
        return Decision(True, f"forced (--force); {counted}", loss)
    if not seen.snapshot_sha256:
        return Decision(False, "no snapshot to restore from", loss)
    if seen.user_objects == 0:
        return Decision(False, "the snapshot holds no user objects", loss)
    if loss < threshold:
        return Decision(False, f"cluster healthy: {counted}, below the threshold {threshold:.0%}", loss)
    if last.boot_id and last.boot_id == seen.boot_id:
        return Decision(False, f"{counted}, but a restore already ran during this boot (at {last.restored_at}); "
                               "at most one per boot — use --force to restore anyway", loss)
    if (last.snapshot_sha256 == seen.snapshot_sha256 and last.cluster_uid == seen.cluster_uid
            and seen.present >= last.present_after):
        return Decision(False, f"{counted}, but this snapshot was already restored into this cluster "
                               f"(at {last.restored_at}) and nothing was lost since — use --force", loss)
    return Decision(True, f"objects lost: {counted}, at or above the threshold {threshold:.0%}", loss)
