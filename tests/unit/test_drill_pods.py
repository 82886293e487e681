"""Where pods ran (a real kubelet or kwok's simulation) and when a pod will not start by itself."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.drill.live import node_info
from dr_lib.drill.pods import (
    STUCK_REASONS,
    StuckWatch,
    describe_stuck,
    pod_fact,
    stuck_containers,
)


def _node(name: str, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations}}


def _pod(name: str, node: str = "localhost", *, waiting: str | None = None, ready: bool = True,
         message: str = "", namespace: str = "shop") -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": waiting, "message": message}} if waiting else {"running": {}}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"nodeName": node},
            "status": {"phase": "Pending" if waiting else "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False"}],
                       "containerStatuses": [{"name": "app", "image": "img:1", "ready": ready and not waiting,
                                              "state": state}]}}


def test_kwok_nodes_are_simulated_real_kubelets_are_not() -> None:
    assert node_info(_node("kwok-0", **{"kwok.x-k8s.io/node": "fake"})).simulated
    assert not node_info(_node("localhost")).simulated
    assert not node_info(_node("k3d-drill-server-0", **{"kwok.x-k8s.io/node": "real"})).simulated
    assert not node_info({"metadata": {"name": "bare"}}).simulated
    assert not node_info({"metadata": {"name": "hostile", "annotations": {"kwok.x-k8s.io/node": ["fake"]}}}).simulated


def test_pod_facts_say_where_and_how_a_pod_ran() -> None:
    fact = pod_fact(_pod("web-1", "kwok-0"), {"kwok-0"})
    assert fact.simulated and fact.node == "kwok-0" and fact.phase == "Running" and fact.ready
    assert fact.containers == ({"name": "app", "image": "img:1", "ready": True, "state": "running"},)
    real = pod_fact(_pod("db-0", waiting="ErrImagePull"), {"kwok-0"})
    assert not real.simulated and not real.ready
    assert real.to_json()["containers"][0]["state"] == "waiting: ErrImagePull"


def test_stuck_containers_are_named_with_pod_image_and_reason() -> None:
    assert stuck_containers(_pod("web-1")) == []
    assert stuck_containers(_pod("web-1", waiting="ContainerCreating")) == []  # on its way: not stuck
    stuck = stuck_containers(_pod("web-1", waiting="ImagePullBackOff", message="Back-off pulling image"))
    assert [(s.pod, s.container, s.reason, s.image) for s in stuck] == [("shop/web-1", "app", "ImagePullBackOff",
                                                                          "img:1")]


def test_a_reason_is_hopeless_only_after_its_grace() -> None:
    watch = StuckWatch()
    pulling = [_pod("web-1", waiting="ErrImagePull")]
    assert watch.hopeless(pulling, now=100.0) == []
    # the kubelet alternates ErrImagePull and ImagePullBackOff: the container stays stuck since 100 s
    backoff = [_pod("web-1", waiting="ImagePullBackOff")]
    assert watch.hopeless(backoff, now=100.0 + STUCK_REASONS["ImagePullBackOff"][0] - 1) == []
    assert [s.pod for s in watch.hopeless(backoff, now=100.0 + STUCK_REASONS["ImagePullBackOff"][0])] == ["shop/web-1"]


def test_a_container_that_recovers_starts_its_grace_again() -> None:
    watch = StuckWatch()
    watch.hopeless([_pod("web-1", waiting="ErrImagePull")], now=0.0)
    watch.hopeless([_pod("web-1")], now=10.0)  # pulled after all
    assert watch.hopeless([_pod("web-1", waiting="CrashLoopBackOff")], now=40.0) == []


@pytest.mark.parametrize("reason", ["ErrImageNeverPull", "InvalidImageName"])
def test_reasons_nothing_will_fix_fail_at_once(reason: str) -> None:
    assert StuckWatch().hopeless([_pod("web-1", waiting=reason)], now=5.0)


def test_the_description_names_every_pod_grouped_by_reason() -> None:
    pods = [_pod(f"web-{i}", waiting="ErrImagePull", message="failed to pull: connection refused") for i in range(3)]
    pods.append(_pod("db-0", waiting="ImagePullBackOff", message="Back-off pulling image"))
    text = describe_stuck([s for pod in pods for s in stuck_containers(pod)])
    assert text.startswith("ErrImagePull — the node could not pull the image")
    for name in ("shop/web-0", "shop/web-1", "shop/web-2", "shop/db-0"):
        assert f"{name} (container app, image img:1)" in text
    assert "(kubelet: failed to pull: connection refused)" in text and "ImagePullBackOff — " in text
    many = [s for i in range(10) for s in stuck_containers(_pod(f"p-{i}", waiting="ErrImagePull"))]
    assert "and 4 more" in describe_stuck(many)
