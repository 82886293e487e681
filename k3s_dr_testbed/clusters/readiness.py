"""Waiting for a cluster to be usable, each wait with a deadline.

Ready means: ``/readyz`` answers ``ok``; the ``default`` ServiceAccount exists in the
``default`` namespace (pods cannot be created before it); every expected node is Ready and
no longer carries the ``not-ready`` taint (or pods stay Pending for a while).
``check_alive`` is called on every round so a component that died fails the wait at once
with its log, instead of the wait running into its deadline.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

from dr_lib.errors import ClusterError, DeadlineExceeded
from dr_lib.kube.client import Kube

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
_POLL = 0.1


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(f"timed out waiting for {what}")
    return left


def probe_readyz(host: str, port: int, token: str, ca_file: str | None, timeout: float) -> tuple[int, str]:
    """One GET /readyz; (0, reason) when nothing answers."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl._create_unverified_context()  # noqa: S323
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    try:
        connection.request("GET", "/readyz", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def wait_readyz(host: str, port: int, token: str, ca_file: str | None, *, deadline: float,
                check_alive: Callable[[], None]) -> None:
    last = "no answer yet"
    while True:
        check_alive()
        left = _remaining(deadline, f"the API server https://{host}:{port}/readyz (last: {last[-300:]})")
        status, body = probe_readyz(host, port, token, ca_file, timeout=min(2.0, left))
        if status == 200:
            return
        last = body if status == 0 else f"HTTP {status}: {body}"
        time.sleep(_POLL)


def wait_default_service_account(kube: Kube, deadline: float, check_alive: Callable[[], None]) -> None:
    path = "/api/v1/namespaces/default/serviceaccounts/default"
    while True:
        check_alive()
        _remaining(deadline, "the ServiceAccount default/default (made by the controller-manager)")
        if kube.request("GET", path, timeout=(2.0, 5.0)).ok:
            return
        time.sleep(_POLL)


def node_problems(node: dict[str, Any]) -> list[str]:
    """Why a Node is not usable yet (empty when Ready and untainted). Pure."""
    problems: list[str] = []
    conditions = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or []}
    if conditions.get("Ready") != "True":
        problems.append(f"Ready={conditions.get('Ready', 'missing')}")
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("key") == NOT_READY_TAINT:
            problems.append(f"taint {NOT_READY_TAINT}:{taint.get('effect')}")
    return problems


def wait_nodes_ready(kube: Kube, names: Iterable[str], deadline: float, check_alive: Callable[[], None]) -> None:
    wanted = set(names)
    status: dict[str, list[str]] = {name: ["not seen"] for name in wanted}
    while wanted:
        check_alive()
        summary = "; ".join(f"{n}: {', '.join(p)}" for n, p in sorted(status.items()) if p)
        _remaining(deadline, f"nodes to be Ready ({summary})")
        response = kube.request("GET", "/api/v1/nodes", timeout=(2.0, 10.0))
        if not response.ok:
            raise ClusterError(f"listing nodes failed: {response.reason}")
        for node in response.body.get("items") or []:
            name = node.get("metadata", {}).get("name")
            if name in wanted:
                status[name] = node_problems(node)
        if all(not status[name] for name in wanted):
            return
        time.sleep(_POLL * 2)
