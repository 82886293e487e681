"""Small helpers shared by integration tests that talk to a real API server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dr_lib.archive.userobjects import not_user_reason
from dr_lib.kube.client import Kube
from dr_lib.kube.discovery import discover
from dr_lib.kube.listing import iter_pages


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def create(kube: Kube, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = kube.request("POST", path, body=body)
    assert response.ok, f"POST {path}: {response.status} {response.reason}"
    return response.body


def delete(kube: Kube, path: str) -> None:
    response = kube.request("DELETE", path)
    assert response.ok or response.status == 404, f"DELETE {path}: {response.status} {response.reason}"


def user_objects(kube: Kube) -> set[str]:
    """Every user object live, by the rules the guard uses: "resource namespace/name"."""
    found = set()
    for resource in discover(kube).resources:
        if resource.has_verbs("list"):
            for page in iter_pages(kube, resource.type):
                for obj in page.items:
                    if not_user_reason(resource.name, obj) is None:
                        found.add(f"{resource.name} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}")
    return found


def settled_user_objects(kube: Kube, timeout: float = 90, quiet: float = 3.0) -> set[str]:
    """The user objects once the listing has not changed for ``quiet`` seconds: controllers finish what
    seeding started (an Endpoints object counts as a user's until the endpoints controller marks it,
    when the Service's pods come up: listings 0.2 s apart agreed while that was still to happen)."""
    seen: list[tuple[set[str], float] | None] = [None]

    def unchanged_long_enough() -> set[str] | None:
        now, at = user_objects(kube), time.monotonic()
        last = seen[0]
        if last is None or last[0] != now:
            seen[0] = (now, at)
            return None
        return now if at - last[1] >= quiet else None

    return wait_for(unchanged_long_enough, timeout, "the user objects to settle")  # type: ignore[no-any-return]
