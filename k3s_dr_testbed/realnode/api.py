"""What the real node asks of the API server: is our kubelet's Node Ready, drain it, forget it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dr_lib.errors import DeadlineExceeded
from dr_lib.kube.client import Kube
from k3s_dr_testbed.realnode.config import NODE_NAME

_POLL = 0.25
_CALL = (2.0, 5.0)
NODE_PATH = f"/api/v1/nodes/{NODE_NAME}"


def node_ready_for(node: dict[str, Any], kubelet_port: int) -> bool:
    """Ready *and* reported by our kubelet: a Node left by an earlier kubelet carries another port."""
    status = node.get("status", {})
    port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    return ready and port == kubelet_port and not node.get("spec", {}).get("unschedulable", False)


def describe_conditions(node: dict[str, Any]) -> str:
    conditions = node.get("status", {}).get("conditions", [])
    return "; ".join(f"{c.get('type')}={c.get('status')} {c.get('message', '')}".strip() for c in conditions)


def wait_node_ready(kube: Kube, kubelet_port: int, check_alive: Callable[[], None], deadline: float) -> None:
    """Poll Node ``localhost`` until our kubelet reports it Ready; ``check_alive`` raises if the kubelet died."""
    last = "the Node object does not exist yet"
    while time.monotonic() < deadline:
        check_alive()
        response = kube.request("GET", NODE_PATH, timeout=_CALL)
        if response.ok and node_ready_for(response.body, kubelet_port):
            return
        if response.ok:
            last = describe_conditions(response.body) or last
        time.sleep(_POLL)
    raise DeadlineExceeded(f"node {NODE_NAME} was not Ready before the deadline: {last}")


def forget_node(kube: Kube) -> None:
    """Delete Node ``localhost`` (a stopped node's object would look Ready to the next start)."""
    kube.request("DELETE", NODE_PATH, timeout=_CALL)


def drain_node(kube: Kube) -> int:
    """Cordon the node and delete its pods at once (grace 0): the API forgets them now and the
    kubelet kills their containers; the caller waits for that through containerd."""
    selector = {"fieldSelector": f"spec.nodeName={NODE_NAME}"}
    kube.request(
        "PATCH",
        NODE_PATH,
        body={"spec": {"unschedulable": True}},
        content_type="application/merge-patch+json",
        timeout=_CALL,
    )
    listed = kube.request("GET", "/api/v1/pods", query=selector, timeout=(2.0, 10.0))
    pods = listed.body.get("items", []) if listed.ok else []
    for pod in pods:
        meta = pod["metadata"]
        kube.request(
            "DELETE",
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
            body={"gracePeriodSeconds": 0},
            timeout=_CALL,
        )
    return len(pods)
