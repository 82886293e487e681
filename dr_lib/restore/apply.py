"""The thin applier: tiers in order, the objects of one tier concurrently.

Between tiers it waits for what the next tier needs: CRDs Established before their custom
resources (with a deadline; custom resources of a CRD that never gets there fail with that
reason). A namespace still Terminating is waited out by the object restorer. One failure
never stops the rest — except losing the API server altogether, after which the remaining
objects are recorded as not attempted rather than each waiting for its own timeout.

Within a tier, results are handed to ``on_batch`` (the journal: appended and fsynced) as they
complete, a few dozen at a time, and an object starts only while fewer than ``journal_window``
started objects are not yet journaled (``window.py``): a killed restore leaves a journal that
names every object but at most that many. After a stop (SIGTERM/SIGINT: ``interrupt.py``) no
object is started; those in flight finish and are recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

from dr_lib.clock import monotonic
from dr_lib.errors import ClusterAuthError, ClusterUnreachable, DRError
from dr_lib.kube.writing import segment
from dr_lib.restore.interrupt import StopSignal
from dr_lib.restore.ledger import FAILED, Entry
from dr_lib.restore.objects import ObjectRestorer, ObjectSettings
from dr_lib.restore.plan import PlannedObject, Tier
from dr_lib.restore.plan.order import CUSTOM_RESOURCES_TIER
from dr_lib.restore.wait import poll_until
from dr_lib.restore.window import run_windowed

log = logging.getLogger(__name__)

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
UNREACHABLE_STREAK_LIMIT = 16  # one per worker: all of them saw the server gone
CR_NOT_FOUND_RETRY_SECONDS = 10.0


JOURNAL_WINDOW = 256  # the most objects a killed restore can have applied that its journal does not name
JOURNAL_EVERY = 32  # results per journal line (appended and fsynced)
BatchSink = Callable[[str, list[Entry], float], None]  # (tier, its entries, seconds since the start)


@dataclass(frozen=True)
class ApplyOptions:
    workers: int = 16
    crd_timeout: float = 60.0
    journal_window: int = JOURNAL_WINDOW


def _established(body: dict[str, object]) -> bool:
    status = body.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return any(isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
               for c in conditions or [])


class Applier:
    def __init__(self, settings: ObjectSettings, options: ApplyOptions,
                 progress: Callable[[Entry], None] | None = None, *, stop: StopSignal | None = None,
                 on_batch: BatchSink | None = None) -> None:
        self.settings = settings
        self.options = options
        self.progress = progress
        self.stop = stop or StopSignal()
        self.on_batch = on_batch
        self._started = monotonic()
        self._restorer = ObjectRestorer(settings)
        self._cr_restorer = ObjectRestorer(replace(settings, not_found_retry_seconds=CR_NOT_FOUND_RETRY_SECONDS))
        self._lock = threading.Lock()
        self._unreachable_streak = 0
        self._unreachable_reason = ""
        self._not_established: dict[str, str] = {}  # resource → reason its CRD is not usable

    def apply(self, tiers: list[Tier]) -> list[Entry]:
        """Every object attempted, in order; after a stop, those never started are not among them."""
        entries: list[Entry] = []
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="restore") as pool:
            for tier in tiers:
                started = self.settings.clock()
                results = run_windowed(pool, tier.objects, partial(self._one, tier.name),
                                       window=self.options.journal_window, flush_every=JOURNAL_EVERY,
                                       flush=partial(self._journal, tier.name), stopped=lambda: self.stop.stopped)
                entries.extend(results)
                log.info("tier %s: %d objects in %.2f s", tier.name, len(results), self.settings.clock() - started)
                if self.stop.stopped:
                    break
                if tier.name == "crds" and not self.settings.dry_run:
                    self._wait_for_crds(tier, results)
        return entries

    def _journal(self, tier: str, entries: list[Entry]) -> None:
        if self.on_batch is not None:
            self.on_batch(tier, entries, monotonic() - self._started)

    def _one(self, tier: str, obj: PlannedObject) -> Entry | None:
        if self.stop.stopped:  # no write starts after a stop
            return None
        entry = self._attempt(tier, obj)
        if entry.result == FAILED and self.stop.stopped:
            entry = replace(entry, reason=f"{entry.reason} (the restore was interrupted while this object was in "
                                          "flight: its waits and retries were cut short)")
        if self.progress is not None:
            self.progress(entry)
        return entry

    def _attempt(self, tier: str, obj: PlannedObject) -> Entry:
        def failed(reason: str) -> Entry:
            return Entry(tier, obj.type.resource, obj.type.kind, obj.namespace, obj.name, FAILED, reason)

        if self._unreachable_streak >= UNREACHABLE_STREAK_LIMIT:
            return failed("not attempted: the API server stopped answering or refused us ("
                          + self._unreachable_reason + ")")
        blocked = self._not_established.get(obj.type.resource)
        if blocked:
            return failed(blocked)
        try:
            restorer = self._cr_restorer if tier == CUSTOM_RESOURCES_TIER else self._restorer
            entry = restorer.restore(tier, obj)
        except (ClusterUnreachable, ClusterAuthError) as exc:  # the server, not this object: count the streak
            with self._lock:
                self._unreachable_streak += 1
                self._unreachable_reason = str(exc)
            return failed(str(exc))
        except DRError as exc:
            return failed(str(exc))
        except Exception as exc:  # a bug of ours must cost one object, not the whole restore
            log.exception("restoring %s failed unexpectedly", obj.key)
            return failed(f"internal error: {type(exc).__name__}: {exc}")
        with self._lock:
            self._unreachable_streak = 0
        return entry

    def _wait_for_crds(self, tier: Tier, results: list[Entry]) -> None:
        deadline = self.settings.clock() + self.options.crd_timeout
        context = self.settings.context
        by_name = {(crd.plural + "." + crd.group): crd for crd in context.crd_types.values()}
        for obj, entry in zip(tier.objects, results, strict=True):  # no stop before the wait: all attempted
            resource = obj.name  # a CRD's name is plural.group: the resource it defines
            if resource not in by_name:
                continue
            if entry.result == FAILED:
                self._not_established[resource] = f"its CRD {obj.name} was not restored: {entry.reason}"
                continue
            answer = poll_until(partial(self.settings.writer.get, CRD_PATH + segment(obj.name)),
                                lambda r: r.ok and _established(r.body), deadline, clock=self.settings.clock)
            if answer is None:
                self._not_established[resource] = (f"its CRD {obj.name} was not Established within "
                                                   f"{self.options.crd_timeout:.0f} s")
                log.warning("CRD %s not Established in time", obj.name)
