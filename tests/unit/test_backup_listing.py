"""Paginated LIST logic (continue tokens, 410 restarts, errors) with a scripted FAKE API server,
and the spool's rewind that a restart relies on. The real server is exercised by the integration tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.documents import encode_documents
from dr_lib.archive.writer import Spool
from dr_lib.errors import ClusterError, ResourceGone, UsageError
from dr_lib.kube.client import ResourceType, Response
from dr_lib.kube.listing import iter_pages, list_all

CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", namespaced=True)


class FakeKube:
    """A FAKE Kube answering GETs from a script of Responses, recording the queries it got."""

    def __init__(self, script: list[Response]) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, **_: Any) -> Response:
        self.calls.append((path, dict(query or {})))
        return self.script.pop(0)


def page(names: list[str], token: str | None = None, remaining: int | None = None) -> Response:
    metadata: dict[str, Any] = {"resourceVersion": "7"}
    if token:
        metadata["continue"] = token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return Response(200, {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": metadata,
                          "items": [{"metadata": {"name": n}} for n in names]})


def test_pages_follow_continue_tokens_and_items_get_apiversion_and_kind_first() -> None:
    kube = FakeKube([page(["a", "b"], "t1", remaining=1), page(["c"])])
    pages = list(iter_pages(kube, CONFIGMAPS, namespace="ns", label_selector="x=y", limit=2))  # type: ignore[arg-type]
    assert [[i["metadata"]["name"] for i in p.items] for p in pages] == [["a", "b"], ["c"]]
    assert list(pages[0].items[0]) == ["apiVersion", "kind", "metadata"]
    assert pages[0].items[0]["kind"] == "ConfigMap" and pages[0].remaining == 1
    assert kube.calls == [("/api/v1/namespaces/ns/configmaps", {"limit": 2, "labelSelector": "x=y"}),
                          ("/api/v1/namespaces/ns/configmaps", {"limit": 2, "labelSelector": "x=y", "continue": "t1"})]


def test_an_expired_continue_token_restarts_the_list_from_the_beginning() -> None:
    expired = Response(410, {"kind": "Status", "reason": "Expired", "message": "The provided continue parameter is "
                                                                                "too old"})
    kube = FakeKube([page(["a"], "t1"), page(["b"], "t2"), expired, page(["a"], "t3"), page(["b"], "t4"),
                     page(["c"])])
    pages = list(iter_pages(kube, CONFIGMAPS))  # type: ignore[arg-type]
    assert [p.restart for p in pages] == [False, False, True, False, False, False]
    assert "continue" not in kube.calls[3][1]
    assert [o["metadata"]["name"] for o in list_all(FakeKube([page(["a"], "t1"), expired, page(["a"], "t2"),
                                                              page(["b"])]), CONFIGMAPS)] == ["a", "b"]  # type: ignore[arg-type]


def test_endless_expiry_gives_up_with_a_clear_error() -> None:
    expired = Response(410, {"message": "too old"})
    kube = FakeKube([page(["a"], "t"), expired] * 5)
    with pytest.raises(ClusterError, match="continue token expired 4 times"):
        list(iter_pages(kube, CONFIGMAPS, max_restarts=3))  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "error", "text"), [
    (404, ResourceGone, "does not serve this resource"),
    (400, UsageError, "was refused: bad selector"),
    (500, ClusterError, "HTTP 500"),
    (410, ClusterError, "HTTP 410"),  # 410 on the first page is not a stale token: an error, not a loop
])
def test_failures_name_the_resource(status: int, error: type[Exception], text: str) -> None:
    kube = FakeKube([Response(status, {"message": "bad selector" if status == 400 else "x"})])
    with pytest.raises(error, match=text):
        list(iter_pages(kube, CONFIGMAPS))  # type: ignore[arg-type]


def test_spool_rewinds_to_a_mark_with_its_checksum(tmp_path: Path) -> None:
    objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": str(i)}} for i in range(6)]
    spool = Spool(tmp_path / "s")
    spool.write_objects(objs[:2])
    mark = spool.mark()
    spool.write_objects(objs[2:5])
    spool.rewind(mark)
    spool.write_objects(objs[2:4])
    summary = spool.close()
    expected = encode_documents(objs[:4])
    assert summary.path.read_bytes() == expected
    assert (summary.objects, summary.bytes, summary.sha256) == (4, len(expected), hashlib.sha256(expected).hexdigest())
    spool = Spool(tmp_path / "t")
    spool.write_objects(objs)
    spool.rewind()
    assert spool.close().objects == 0 and (tmp_path / "t").read_bytes() == b""
