"""Where the drill's pods ran, and why a pod does not start: read from the API server.

A drill that claims its application is back must say whether containers really ran: pods on a
node kwok manages are simulated (kwok marks them Running and Ready, no process exists; the node is
known by kwok's annotation, :func:`dr_lib.drill.live.node_info`), pods on any other node ran on a
real kubelet. And a pod that can never become Ready (its image cannot be
had, its container keeps crashing) must fail the wait early, naming the pod and the reason,
rather than at the deadline with only "0/2 replicas Ready". Both rules are tables below.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dr_lib.drill.live import Unhealthy, cluster_nodes, wait_until
from dr_lib.errors import DeadlineExceeded, StepFailed
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube

# Container waiting reason → (seconds tolerated, why it means the pod will not start by itself).
STUCK_REASONS: dict[str, tuple[float, str]] = {
    "ErrImageNeverPull": (0.0, "imagePullPolicy Never and the image is not on the node: nothing will load it"),
    "InvalidImageName": (0.0, "the image reference cannot be parsed"),
    "ErrImagePull": (30.0, "the node could not pull the image (the kubelet retries with back-off)"),
    "ImagePullBackOff": (30.0, "pulling the image failed and the kubelet waits before trying again"),
    "CreateContainerConfigError": (30.0, "a ConfigMap or Secret key the container needs is missing"),
    "CrashLoopBackOff": (60.0, "the container keeps exiting"),
}
MAX_SHOWN = 6


@dataclass(frozen=True)
class PodFact:
    """One pod as the API server reported it: where it ran and whether its containers did."""

    namespace: str
    name: str
    node: str
    simulated: bool
    phase: str
    ready: bool
    containers: tuple[dict[str, Any], ...] = field(default=())  # name, image, ready, state

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "node": self.node, "simulated": self.simulated,
                "phase": self.phase, "ready": self.ready, "containers": list(self.containers)}


def _state(status: JSONObject) -> str:
    state = status.get("state") or {}
    for name in ("running", "waiting", "terminated"):
        if name in state:
            reason = (state[name] or {}).get("reason")
            return f"{name}: {reason}" if reason else name
    return "unknown"


def pod_fact(pod: JSONObject, simulated_nodes: set[str]) -> PodFact:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    containers = tuple({"name": c.get("name"), "image": c.get("image"), "ready": bool(c.get("ready")),
                        "state": _state(c)} for c in status.get("containerStatuses") or [])
    node = str(spec.get("nodeName") or "")
    return PodFact(str(meta.get("namespace", "")), str(meta.get("name", "")), node, node in simulated_nodes,
                   str(status.get("phase", "")), ready, containers)


@dataclass(frozen=True)
class Stuck:
    pod: str  # namespace/name
    container: str
    reason: str
    message: str
    image: str

    def __str__(self) -> str:
        return f"{self.pod} (container {self.container}, image {self.image})"


def stuck_containers(pod: JSONObject) -> list[Stuck]:
    """Containers of ``pod`` waiting for a reason of :data:`STUCK_REASONS`. Pure."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    found = []
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_REASONS:
            found.append(Stuck(where, str(container.get("name")), str(waiting["reason"]),
                               str(waiting.get("message") or ""), str(container.get("image") or "")))
    return found


@dataclass
class StuckWatch:
    """Containers seen stuck, since when (monotonic seconds): stuck past its reason's grace is hopeless."""

    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def hopeless(self, pods: Iterable[JSONObject], now: float) -> list[Stuck]:
        current = [stuck for pod in pods for stuck in stuck_containers(pod)]
        keys = {(s.pod, s.container) for s in current}
        self.first_seen = {k: v for k, v in self.first_seen.items() if k in keys}
        for stuck in current:
            self.first_seen.setdefault((stuck.pod, stuck.container), now)
        return [s for s in current if now - self.first_seen[(s.pod, s.container)] >= STUCK_REASONS[s.reason][0]]


def list_pods(kube: Kube, namespaces: Iterable[str]) -> list[JSONObject]:
    pods: list[JSONObject] = []
    for namespace in sorted(set(namespaces)):
        pods += [p for p in kube.get(f"/api/v1/namespaces/{namespace}/pods").get("items") or [] if isinstance(p, dict)]
    return pods


def read_pod_facts(kube: Kube, namespaces: Iterable[str]) -> list[PodFact]:
    fake = {node.name for node in cluster_nodes(kube) if node.simulated}
    return [pod_fact(pod, fake) for pod in list_pods(kube, namespaces)]


def describe_stuck(stuck: Sequence[Stuck]) -> str:
    """The stuck pods grouped by reason, each reason with why it is hopeless and the kubelet's first message."""
    parts = []
    for reason in sorted({s.reason for s in stuck}):
        group = [s for s in stuck if s.reason == reason]
        more = f" and {len(group) - MAX_SHOWN} more" if len(group) > MAX_SHOWN else ""
        message = next((s.message for s in group if s.message), "")
        said = f" (kubelet: {message[:160]})" if message else ""
        parts.append(f"{reason} — {STUCK_REASONS[reason][1]}: {', '.join(str(s) for s in group[:MAX_SHOWN])}{more}"
                     f"{said}")
    return "; ".join(parts)


def wait_healthy(kube: Kube, unhealthy: Callable[[], list[Unhealthy]], namespaces: Sequence[str], deadline: float,
                 doing: str, *, clock: Callable[[], float] = time.monotonic) -> None:
    """:func:`dr_lib.drill.live.wait_until` the objects are healthy, failing early — naming the pods and
    the reason — when a pod in ``namespaces`` is stuck beyond its reason's grace (:data:`STUCK_REASONS`)."""
    watch = StuckWatch()

    def check() -> list[Unhealthy]:
        left = unhealthy()
        if left:
            pods = list_pods(kube, namespaces)
            if watch.hopeless(pods, clock()):  # name every stuck pod, not only the first past its grace
                stuck = [s for pod in pods for s in stuck_containers(pod)]
                raise StepFailed(f"{doing}: {len(stuck)} containers cannot start — {describe_stuck(stuck)}")
        return left

    try:
        wait_until(check, deadline, doing)
    except DeadlineExceeded as exc:
        stuck = [s for pod in list_pods(kube, namespaces) for s in stuck_containers(pod)]
        if not stuck:
            raise
        raise DeadlineExceeded(f"{exc.message}; pods not starting: {describe_stuck(stuck)}") from None
