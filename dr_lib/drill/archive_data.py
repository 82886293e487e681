"""An archive drill's application data: which of the archive's data members can be restored and
checked on the target, the checks read from the restore's data report, and taking away what the
restore placed on this machine.

``k3s-dr restore`` puts volume copies on the disk of the machine it runs on (the node path in the
manifest) and feeds dumps to Ready pods through the exec API. So volume copies are checked only
where a node of the target has this machine's disk (the local provider's real node), dumps where
a real kubelet runs pods (not on kwok's simulated nodes); what cannot be checked is recorded as
not applicable, with the reason. A drill never moves a directory of this machine aside
(``hooks.restore_volumes`` is ``keep-existing`` for its commands): a path already in use keeps
its data and the check says so.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from dr_lib.archive.dataentry import HOOK_DUMP, VOLUME
from dr_lib.clock import utc_now
from dr_lib.drill.live import cluster_nodes
from dr_lib.drill.run import DrillRun, drill_volume_roots
from dr_lib.errors import StepFailed
from dr_lib.hooks.confine import locate, remove_volume
from dr_lib.kube.client import Kube

MAX_NAMED = 10
PLACED = "placed"  # the restore's action for a volume put into a directory that was absent or empty
# The restore's actions that put the archive's data in place ("kept-existing" verified only its copy).
PUT_BACK = frozenset({PLACED, "replaced"})


# Data kind → (what the target needs for the kind to be restored and checked, why it is not without it).
DATA_NEEDS: dict[str, tuple[str, str]] = {
    VOLUME: ("local_disk", "volume copies: restore puts them on the disk of the machine it runs on, and no node of "
                           "the target has this machine's disk (the local provider's --real-node has)"),
    HOOK_DUMP: ("real_pods", "dumps: every node of the target is simulated (kwok), no container runs to receive "
                             "them"),
}


def data_scope(kinds: Counter[str], *, real_pods: bool, local_disk: bool) -> tuple[set[str], list[str]]:
    """(the data kinds restored and checked, why each other kind is not). Pure."""
    if not kinds:
        return set(), ["the archive holds no application data (no volume copies, no dumps)"]
    target_has = {"local_disk": local_disk, "real_pods": real_pods}
    checked: set[str] = set()
    why: list[str] = []
    for kind, (need, reason) in DATA_NEEDS.items():
        if not kinds[kind]:
            continue
        if target_has[need]:
            checked.add(kind)
        else:
            why.append(f"{kinds[kind]} {reason}")
    return checked, why


def plan_data(run: DrillRun, kube: Kube) -> None:
    """Decide, once the target is up, what of the archive's data the drill restores and checks."""
    assert run.archive is not None
    real_pods = any(not node.simulated for node in cluster_nodes(kube))
    local_disk = run.settings.provider == "local" and run.settings.real_node
    kinds = Counter(entry.kind for entry in run.archive.verified.manifest.data)
    run.archive.data_kinds, reasons = data_scope(kinds, real_pods=real_pods, local_disk=local_disk)
    for reason in reasons:
        run.not_applicable("verify", "application data checks", reason)


def data_results(members: Iterable[Any], report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One check per data member, from ``k3s-dr restore --json``'s ``data`` report. Pure."""
    report = report or {}
    volumes = {v.get("path"): v for v in report.get("volumes") or [] if isinstance(v, dict)}
    hooks = [h for h in report.get("hooks") or [] if isinstance(h, dict)]
    results = []
    for entry in members:
        if entry.kind == VOLUME:
            volume = volumes.get(entry.path) or {}
            ok = bool(volume.get("verified")) and volume.get("action") in PUT_BACK
            detail = (f"{volume.get('action')} at {volume.get('node_path')}, tree sha256 "
                      f"{'matches' if ok else 'not verified'}") if volume else "not restored"
        else:
            namespace, pod = entry.meta.get("namespace"), entry.meta.get("pod")
            ran = [h for h in hooks if h.get("namespace") == namespace and h.get("pod") == pod]
            ok = bool(ran) and all(h.get("ok") for h in ran) and any(h.get("phase") == "restore" for h in ran)
            detail = "; ".join(f"{h.get('phase')} hook {'ok' if h.get('ok') else h.get('reason')}" for h in ran) \
                or "no restore hook ran"
        results.append({"member": entry.path, "kind": entry.kind, "ok": ok, "detail": detail})
    return results


def check_data(run: DrillRun) -> None:
    """The archive's application data came back, for the kinds that could be restored here."""
    if run.archive is None or not run.archive.data_kinds or run.restore is None:
        return
    t0, m0 = utc_now(), time.monotonic()
    members = [e for e in run.archive.verified.manifest.data if e.kind in run.archive.data_kinds]
    results = data_results(members, run.restore.result.get("data"))
    run.archive.data_results = results
    run.attach("verify", "data-checks.json", "json", results)
    bad = [r for r in results if not r["ok"]]
    run.phase("verify", "data-checks", t0, m0, f"{len(results) - len(bad)}/{len(results)} data members back")
    if bad:
        raise StepFailed(f"{len(bad)} data members of the archive did not come back: "
                         + "; ".join(f"{r['member']}: {r['detail']}" for r in bad[:MAX_NAMED]))


def remove_placed(run: DrillRun) -> None:
    """The volume directories the restore placed (absent or empty before the drill) go again: the
    drill leaves this machine's disk as it found it. Runs once the target cluster is gone."""
    report = (run.restore.result.get("data") or {}) if run.restore is not None else {}
    for volume in report.get("volumes") or []:
        if isinstance(volume, dict) and volume.get("action") == PLACED:
            # only below the roots the drill's restore had, as it placed it (the path is the archive's: untrusted)
            remove_volume(locate(volume.get("node_path"), drill_volume_roots(run.settings, run.work_dir)))
