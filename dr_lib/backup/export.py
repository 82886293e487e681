"""Export API objects to spool files: several kinds in parallel, each LIST paginated and streamed.

Every kind gets its own spool file (see :class:`dr_lib.archive.writer.Spool`), written a page
at a time, so memory holds a few pages whatever the number of objects. The CRD kind is one of
the parallel jobs; when it is done, the custom resources of the CRDs it wrote are queued too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.userobjects import count_user_objects
from dr_lib.archive.writer import Spool, SpoolSummary
from dr_lib.backup.scope import CRD_KEY, Scope, ScopeOptions, custom_resource_types, list_namespaces, object_filter
from dr_lib.errors import Cancelled, ResourceGone
from dr_lib.kube.client import Kube
from dr_lib.kube.discovery import APIResource, Discovery
from dr_lib.kube.listing import DEFAULT_PAGE_SIZE, iter_pages

DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class ExportedKind:
    resource: APIResource
    summary: SpoolSummary
    crds: tuple[Mapping[str, Any], ...] = ()  # for the CRD kind: what is needed to find their resources
    gone: str | None = None  # the server stopped serving the kind mid-backup (a CRD deleted): left out
    user_objects: int = 0  # of the kind's objects, those that are the user's (dr_lib.archive.userobjects)


@dataclass(frozen=True)
class Progress:
    kinds_done: int
    kinds_total: int
    objects: int


ProgressSink = Callable[[Progress], None]


def _crd_essentials(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec") or {}
    versions = [{k: v.get(k) for k in ("name", "served", "storage")} for v in spec.get("versions") or []]
    return {"spec": {"group": spec.get("group"), "names": spec.get("names"), "scope": spec.get("scope"),
                     "versions": versions}}


class Exporter:
    def __init__(self, kube: Kube, spool_dir: Path, options: ScopeOptions, *, page_size: int = DEFAULT_PAGE_SIZE,
                 progress: ProgressSink | None = None) -> None:
        self.kube = kube
        self.spool_dir = spool_dir
        self.options = options
        self.page_size = page_size
        self.stop = threading.Event()
        self._progress = progress
        self._lock = threading.Lock()
        self._objects = 0
        self._done = 0
        self.total = 0

    def _report(self, objects: int, finished: bool = False) -> None:
        with self._lock:
            self._objects += objects
            self._done += finished
            if self._progress is not None:
                self._progress(Progress(self._done, self.total, self._objects))

    def _check_cancelled(self, resource: APIResource) -> None:
        if self.stop.is_set():
            raise Cancelled(f"export of {resource.name} cancelled")

    def export(self, resource: APIResource) -> ExportedKind:
        member = fmt.resource_member(resource.type.group, resource.type.plural)
        spool = Spool(self.spool_dir / member.rsplit("/", 1)[1])
        keep = object_filter(self.options, resource)
        collect_crds = (resource.type.group, resource.type.plural) == CRD_KEY
        crds: list[Mapping[str, Any]] = []
        user = 0
        try:
            for namespace in list_namespaces(self.options, resource):
                start, crds_before, user_before = spool.mark(), len(crds), user
                for page in iter_pages(self.kube, resource.type, namespace=namespace,
                                       label_selector=self.options.selector, limit=self.page_size):
                    self._check_cancelled(resource)
                    if page.restart:
                        spool.rewind(start)
                        del crds[crds_before:]
                        user = user_before
                        continue
                    items = page.items if keep is None else [obj for obj in page.items if keep(obj)]
                    spool.write_objects(items)
                    user += count_user_objects(resource.name, items)
                    if collect_crds:
                        crds.extend(_crd_essentials(obj) for obj in items)
                    self._report(len(items))
            summary = spool.close()
        except ResourceGone as exc:
            spool.discard()
            self._report(0, finished=True)
            return ExportedKind(resource, SpoolSummary(spool.path, 0, 0, ""), gone=str(exc))
        except BaseException:
            spool.discard()
            raise
        self._report(0, finished=True)
        return ExportedKind(resource, summary, tuple(crds), user_objects=user)


def export_scope(kube: Kube, discovery: Discovery, scope: Scope, options: ScopeOptions, spool_dir: Path, *,
                 workers: int = DEFAULT_WORKERS, page_size: int = DEFAULT_PAGE_SIZE,
                 progress: ProgressSink | None = None) -> tuple[list[ExportedKind], list[str]]:
    """Every kind of ``scope`` (and the custom resources of its CRDs) spooled, in scope order, and warnings.

    A kind the server stopped serving after discovery (its CRD was deleted meanwhile) is left
    out with a warning rather than recorded as empty, which a restore would take for the truth.
    """
    exporter = Exporter(kube, spool_dir, options, page_size=page_size, progress=progress)
    order: list[APIResource] = list(scope.resources)
    exporter.total = len(order)
    results: dict[str, ExportedKind] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export") as pool:
        pending: set[Future[ExportedKind]] = {pool.submit(exporter.export, r) for r in order}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    exported = future.result()
                    results[exported.resource.name] = exported
                    if scope.follow_crds and exported.crds:
                        extra = custom_resource_types(discovery, exported.crds, scope, options)
                        order.extend(extra)
                        exporter.total += len(extra)
                        pending |= {pool.submit(exporter.export, r) for r in extra}
        except BaseException:
            exporter.stop.set()
            for future in pending:
                future.cancel()
            raise
    finished = [results[resource.name] for resource in order]
    warnings = [f"{k.resource.name} left out: {k.gone}" for k in finished if k.gone]
    return [k for k in finished if k.gone is None], warnings


def discard_spools(exported: Iterable[ExportedKind]) -> None:
    for kind in exported:
        kind.summary.path.unlink(missing_ok=True)
