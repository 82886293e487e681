"""A LIST whose continue token expires (HTTP 410) starts over, against a real API server.

The server is told to compact every second and to read from storage (no watch cache), and
kine to keep no old revisions: a continue token then expires as soon as a compaction passes
it, which is what a long LIST meets on a busy k3s server.
"""

from __future__ import annotations

import time
from typing import Any

from _kube import create

from dr_lib.kube.client import Kube, ResourceType
from dr_lib.kube.listing import iter_pages, list_all

CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True)
COMPACTING = {"apiserver_flags": ("--etcd-compaction-interval=1s", "--watch-cache=false"),
              "kine_flags": ("--compact-min-retain=0",)}


def _wait_until_expired(kube: Kube, namespace: str, token: str, timeout: float = 30.0) -> int:
    """Write until ``token`` is refused as too old; returns how many objects were written."""
    deadline = time.monotonic() + timeout
    written = 0
    while time.monotonic() < deadline:
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"late-{written}"}})
        written += 1
        probe = kube.request("GET", CONFIGMAPS.collection_path(namespace), query={"limit": 5, "continue": token})
        if probe.status == 410:
            return written
        time.sleep(0.2)
    raise AssertionError(f"the continue token did not expire within {timeout} s")


def test_an_expired_continue_token_restarts_the_list(cluster_factory: Any) -> None:
    handle = cluster_factory(nodes=0, **COMPACTING)
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        create(kube, "/api/v1/namespaces", {"metadata": {"name": "expiring"}})
        for i in range(30):
            create(kube, "/api/v1/namespaces/expiring/configmaps", {"metadata": {"name": f"early-{i:02d}"}})
        pages = iter_pages(kube, CONFIGMAPS, namespace="expiring", limit=5)
        kept = [obj["metadata"]["name"] for obj in next(pages).items]
        probe_token = kube.request("GET", CONFIGMAPS.collection_path("expiring"),
                                   query={"limit": 5}).body["metadata"]["continue"]
        written = _wait_until_expired(kube, "expiring", probe_token)
        restarts = 0
        for page in pages:  # the page fetched before the compaction, then the expired token's 410
            if page.restart:
                restarts += 1
                kept.clear()
            kept.extend(obj["metadata"]["name"] for obj in page.items)
        expected = sorted(obj["metadata"]["name"] for obj in list_all(kube, CONFIGMAPS, namespace="expiring"))
    assert restarts >= 1, "the LIST never met an expired continue token"
    assert written >= 1
    assert sorted(kept) == expected  # one consistent listing: every object once, the late ones included
    assert len(expected) == 30 + written + 1  # kube-root-ca.crt
