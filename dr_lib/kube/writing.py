"""Writes to the API server for restore: create, server-side apply, delete, get, dry runs.

A restore sends thousands of small requests and the API server's write rate (~600/s here)
should be the limit, not the client. So this path skips the generated client's per-call
work (re-serializing the body, header assembly, response decoding): bodies arrive encoded
once as JSON bytes, go straight through the :class:`Kube`'s connection pool (sized to the
thread count, keep-alive, the kubeconfig's TLS and credentials), and a response body is
decoded only when someone needs it. Every HTTP status comes back as a value; only "no
answer" and refused credentials (401) raise.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from dr_lib.errors import ClusterAuthError, ClusterUnreachable
from dr_lib.jsontypes import encode_compact
from dr_lib.kube.client import DEFAULT_TIMEOUT, Kube, Response, decode_body

FIELD_MANAGER = "k3s-dr"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the encoded body is sent as it is
# Overload answers worth one more try: the request did not reach storage.
RETRIED_STATUSES = frozenset({429, 503, 504})
MAX_ATTEMPTS = 4


encode = encode_compact  # the wire form of an object, computed once per object


def segment(name: str) -> str:
    """A name as one URL path segment (RBAC names hold ':', others may hold anything)."""
    return quote(name, safe=":@")


class Writer:
    """Raw, thread-safe requests over one :class:`Kube` connection pool."""

    def __init__(self, kube: Kube, *, field_manager: str = FIELD_MANAGER,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self.kube = kube
        self.server = kube.server.rstrip("/")
        self.field_manager = field_manager
        self.timeout = timeout
        self._backend = kube.backend
        self._transport = kube.backend.write_transport()

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(self._backend.auth_headers())
        return headers

    def send(self, method: str, path: str, *, query: Mapping[str, str] | None = None, body: bytes | None = None,
             content_type: str | None = "application/json", want_body: bool = True) -> Response:
        """One request; the body of a 2xx answer is decoded only with ``want_body``."""
        url_path = path + ("?" + urlencode(query) if query else "")
        headers = self._headers(content_type if body is not None else None)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                raw = self._transport.send(method, url_path, body, headers, self.timeout)
            except (http.client.HTTPException, OSError) as exc:  # Unanswered is an OSError
                raise ClusterUnreachable(f"API server {self.server} did not answer {method} {path}: {exc}",
                                         hint="is the cluster running and the kubeconfig's server address right?"
                                         ) from None
            if raw.status in RETRIED_STATUSES and attempt < MAX_ATTEMPTS:
                time.sleep(_retry_after(raw.headers.get("Retry-After"), attempt))
                continue
            break
        if raw.status == 401:
            raise ClusterAuthError(f"API server {self.server} refused our credentials (401 Unauthorized) "
                                   f"for {method} {path}",
                                   hint="the kubeconfig's token or certificate is wrong or expired")
        ok = 200 <= raw.status < 300
        return Response(raw.status, decode_body(raw.data) if (want_body or not ok) else {})

    def create(self, collection_path: str, body: bytes, *, dry_run: bool = False) -> Response:
        return self.send("POST", collection_path, query=_dry(dry_run), body=body, want_body=False)

    def apply(self, object_path: str, body: bytes, *, dry_run: bool = False, force: bool = True) -> Response:
        """Server-side apply as our field manager; ``force`` takes over fields others own."""
        query = {"fieldManager": self.field_manager, **_dry(dry_run)}
        if force:
            query["force"] = "true"
        return self.send("PATCH", object_path, query=query, body=body, content_type=APPLY_PATCH)

    def delete(self, object_path: str, *, dry_run: bool = False) -> Response:
        options = encode({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                          **({"dryRun": ["All"]} if dry_run else {})})
        return self.send("DELETE", object_path, query=_dry(dry_run), body=options, want_body=False)

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Response:
        return self.send("GET", path, query=query, content_type=None)


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        seconds = float(header) if header else 0.0
    except ValueError:
        seconds = 0.0
    return float(min(max(seconds, 0.1 * 2**attempt), 5.0))
