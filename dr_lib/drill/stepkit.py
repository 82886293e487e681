"""What the steps of both kinds of drill share: deadlines, clusters with the drill's images in
them, command results, and the facts of where pods ran."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.cluster.provider import ClusterSpec, drill_images, load_images, start_cluster
from dr_lib.drill import live
from dr_lib.drill.app import image_users
from dr_lib.drill.commands import CommandRun
from dr_lib.drill.images import ROLES
from dr_lib.drill.pods import read_pod_facts
from dr_lib.drill.run import DrillRun
from dr_lib.errors import StepFailed
from dr_lib.kube.client import Kube


def deadline(run: DrillRun) -> float:
    return time.monotonic() + run.settings.step_timeout_seconds


def ns(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("namespace") or "")


def require_ok(command: CommandRun, what: str) -> dict[str, Any]:
    if not command.ok:
        raise StepFailed(f"{what}: {command.failure()}")
    if command.result is None:
        raise StepFailed(f"{what}: `{command.command_line}` printed no JSON result")
    return command.result


def _remove_application(run: DrillRun, handle: Any) -> None:
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        live.delete_objects(kube, run.seeded, run.drill_id, deadline(run))


def start_drill_cluster(run: DrillRun, role: str, *, with_images: bool = True) -> Any:
    """A cluster for ``role`` (src, dst) from the drill's provider; with the drill's images loaded into
    it the way it takes images (``with_images``: the synthetic application runs there)."""
    settings = run.settings
    spec = ClusterSpec(f"drill-{run.drill_id}-{role}", nodes=settings.nodes, real_node=settings.real_node,
                       owned_by_process=True, kubernetes_version=settings.kubernetes_version)
    handle = start_cluster(settings.provider, spec, kubeconfig_path=settings.kubeconfig)
    if settings.provider != "kubeconfig":
        run.on_cleanup(f"stop the {role} cluster", handle.stop)
    elif role == "src":  # someone else's cluster: take away what the drill put there, nothing else
        run.on_cleanup("delete the drill's application", lambda: _remove_application(run, handle))
    if with_images:
        step = "source" if role == "src" else "destroy"
        t0, m0 = utc_now(), time.monotonic()
        if run.images is None:
            run.images = drill_images(settings.provider, tuple(ROLES), settings.images, image_users())
        loaded = load_images(settings.provider, handle, run.images, deadline(run))
        run.image_loads.append(loaded)
        run.phase(step, "images", t0, m0, f"{loaded.how}: {', '.join(loaded.images)}")
    return handle


def record_pods(run: DrillRun, which: str, kubeconfig: Any, namespaces: Iterable[str]) -> None:
    """Where the pods of ``namespaces`` ran (real or simulated node) and how they were, for the evidence."""
    with Kube.from_kubeconfig(kubeconfig) as kube:
        run.pods[which] = read_pod_facts(kube, namespaces)
