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


def settled_user_objects(kube: Kube, timeout: float = 90) -> set[str]:
    """The user objects once two listings in a row agree (controllers finish what seeding started)."""
    previous: list[set[str]] = [set()]

    def same_twice() -> set[str] | None:
        now = user_objects(kube)
        settled = now if now == previous[0] else None
        previous[0] = now
        return settled

    return wait_for(same_twice, timeout, "the user objects to settle")  # type: ignore[no-any-return]
