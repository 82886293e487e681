"""Paginated LIST as a stream of pages: memory holds one page (plus the one being fetched).

Pages are requested with ``limit``/``continue``; while the caller handles page *n* (writes it
to disk), page *n+1* is already being fetched on a helper thread, so the API server's time
and ours overlap. Items come back as the raw JSON dicts the server sent, with ``apiVersion``
and ``kind`` filled in (a LIST omits them per item), so each is a complete API object.

A continue token can expire (HTTP 410, when a LIST takes longer than the datastore keeps old
revisions). The LIST then restarts from the beginning for a consistent result; the caller sees
a page with ``restart=True`` and discards what it got so far.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dr_lib.errors import ClusterError, ResourceGone, UsageError
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType, Response

DEFAULT_PAGE_SIZE = 500
MAX_RESTARTS = 3


@dataclass(frozen=True)
class ListPage:
    items: list[JSONObject] = field(default_factory=list)
    restart: bool = False  # the LIST started over: drop every item received before this page
    remaining: int | None = None  # objects still to come, when the server says


def _query(limit: int, token: str | None, label_selector: str | None, field_selector: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {"limit": limit}
    if token:
        query["continue"] = token
    if label_selector:
        query["labelSelector"] = label_selector
    if field_selector:
        query["fieldSelector"] = field_selector
    return query


def _failure(rtype: ResourceType, path: str, response: Response) -> ClusterError | UsageError:
    what = f"LIST {rtype.group_kind} ({path})"
    if response.status == 404:
        return ResourceGone(f"{what}: the API server does not serve this resource: {response.reason}")
    if response.status == 400:
        return UsageError(f"{what} was refused: {response.reason}", hint="check the label selector")
    return ClusterError(f"{what} failed: HTTP {response.status}: {response.reason}")


def _complete(items: list[JSONObject], api_version: str, kind: str) -> list[JSONObject]:
    # Put apiVersion and kind first, as kubectl shows objects.
    return [{"apiVersion": api_version, "kind": kind, **item} for item in items]


def iter_pages(
    kube: Kube,
    rtype: ResourceType,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    max_restarts: int = MAX_RESTARTS,
) -> Iterator[ListPage]:
    """Every object of ``rtype`` (in ``namespace``, or all), page by page."""
    path = rtype.collection_path(namespace)

    def fetch(token: str | None) -> Response:
        return kube.request("GET", path, query=_query(limit, token, label_selector, field_selector))

    restarts = 0
    token: str | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"list-{rtype.plural}") as prefetch:
        pending: Future[Response] = prefetch.submit(fetch, None)
        while True:
            response = pending.result()
            if response.status == 410 and token is not None:
                restarts += 1
                if restarts > max_restarts:
                    raise ClusterError(f"LIST {rtype.group_kind}: the continue token expired {restarts} times; "
                                       "the datastore compacts faster than we can read")
                token = None
                pending = prefetch.submit(fetch, None)
                yield ListPage(restart=True)
                continue
            if not response.ok:
                raise _failure(rtype, path, response)
            metadata = response.body.get("metadata") or {}
            token = metadata.get("continue") or None
            if token is not None:
                pending = prefetch.submit(fetch, token)
            remaining = metadata.get("remainingItemCount")
            yield ListPage(_complete(response.body.get("items") or [], rtype.api_version, rtype.kind),
                           remaining=remaining if isinstance(remaining, int) else None)
            if token is None:
                return


def list_all(kube: Kube, rtype: ResourceType, **kwargs: Any) -> list[JSONObject]:
    """Every object in memory: for small kinds (namespaces, CRDs), never for bulk."""
    items: list[JSONObject] = []
    for page in iter_pages(kube, rtype, **kwargs):
        if page.restart:
            items.clear()
        items.extend(page.items)
    return items
