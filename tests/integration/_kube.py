"""Small helpers shared by integration tests that talk to a real API server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dr_lib.kube.client import Kube


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
