"""One restore, start to end: lock, verify, plan, preflight, apply, wait, ledger.

Nothing is written to the cluster before the archive passed verification, the plan was
built from all of it (a forged object anywhere refuses the whole archive) and the live
server confirmed it serves every type. The backup lock is held throughout, so no backup of
a half-restored cluster is taken and promoted meanwhile (a dry run changes nothing and takes
no lock).

From the first write on, the ledger is journaled as it goes (``journal.py``) and SIGTERM or
SIGINT stop the applier between writes (``interrupt.py``): the final ledger then says what was
applied and that the restore was interrupted, the wait and the data hooks are skipped, and the
CLI exits 130. A restore killed outright leaves its journal, which the next restore turns into
that ledger.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dr_lib.archive import VerifyResult, exclusive_lock, iter_archive_objects, verify_archive
from dr_lib.archive.legacy import LEGACY_FORMAT, is_legacy_archive, iter_legacy_objects, read_legacy
from dr_lib.clock import monotonic
from dr_lib.errors import EnvironmentProblem, IntegrityError
from dr_lib.kube.client import Kube
from dr_lib.kube.writing import Writer
from dr_lib.restore.apply import JOURNAL_WINDOW, Applier, ApplyOptions
from dr_lib.restore.files import write_json_atomic
from dr_lib.restore.interrupt import StopSignal, stop_on_signals
from dr_lib.restore.journal import Journal, header, interruption, journal_path_for, recover_journals
from dr_lib.restore.ledger import Entry, Ledger
from dr_lib.restore.objects import ObjectSettings
from dr_lib.restore.plan import Plan, PlanOptions, build_plan
from dr_lib.restore.plan.builtin import by_kind
from dr_lib.restore.preflight import Preflight, run_preflight
from dr_lib.restore.spool import SpooledBodies
from dr_lib.restore.userloss import fewer_user_objects
from dr_lib.restore.wait import wait_until_ready
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreRequest:
    archive: Path
    ledger_dir: Path
    lock_file: Path | None = None
    plan_options: PlanOptions = field(default_factory=PlanOptions)
    policy: str = "skip"
    dry_run: bool = False
    wait: bool = False
    wait_timeout: float = 600.0
    wait_progress: Callable[[str], None] | None = None  # a line every 15 s while --wait waits
    workers: int = 16
    crd_timeout: float = 60.0
    namespace_timeout: float = 120.0
    delete_timeout: float = 60.0
    # Application data (dr_lib.hooks, composed by the restore jobs; not run in a dry run): volume data is put
    # back before any object exists, so pods find it at first start; dumps go in once pods are Ready.
    before_apply: Callable[[Path], None] | None = None
    after_apply: Callable[[Path], None] | None = None
    # The backup directory, to compare the archive with the one before it (restore.shrink_warn_threshold).
    backup_dir: Path | None = None
    shrink_warn_threshold: float = 0.5
    expected_sha256: str | None = None  # auto-restore: the sha256 the trusted snapshot was verified with
    trust: SignaturePolicy = NO_KEYS  # whose signature the archive must carry (trust.verify_keys, --verify-key)
    journal_window: int = JOURNAL_WINDOW  # the most objects a killed restore applied that its journal does not name


@dataclass(frozen=True)
class RestoreOutcome:
    ledger: Ledger
    ledger_path: Path
    verified: VerifyResult
    plan: Plan
    warnings: tuple[str, ...] = ()


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def ledger_path_for(directory: Path, now: datetime, dry_run: bool) -> Path:
    base = f"restore-{_stamp(now)}{'-dry-run' if dry_run else ''}"
    path = directory / f"{base}.json"
    counter = 1
    while path.exists() or journal_path_for(path).exists():
        counter += 1
        path = directory / f"{base}-{counter}.json"
    return path


@contextlib.contextmanager
def _maybe_locked(request: RestoreRequest) -> Iterator[None]:
    if request.lock_file is None or request.dry_run:
        yield
        return
    with exclusive_lock(request.lock_file, "restore"):
        yield


@contextlib.contextmanager
def _refusal(archive: Path) -> Iterator[None]:
    """Name the archive and say that nothing was applied, whoever found the problem."""
    try:
        yield
    except IntegrityError as exc:
        if "nothing applied" in exc.message:
            raise
        raise IntegrityError(f"archive {archive.name} refused, nothing applied: {exc.message}",
                             hint=exc.hint) from None


def load_plan(archive: Path, options: PlanOptions,
              trust: SignaturePolicy = NO_KEYS) -> tuple[VerifyResult, Plan]:
    """Verify the whole archive (its signature first, by ``trust``), then plan it: IntegrityError before
    anything else happens. The one verification every restore of objects takes (plain, ``--from``,
    ``--auto``, the drill of a real archive); ``--datastore`` and ``pull`` call ``verify_archive`` with
    the same policy.

    An archive of the seed's scripts (named like theirs: dr_lib.archive.legacy) is read and checked as
    far as its layout allows, into the same planner; it was never signed, so verify keys refuse it
    unless unsigned archives are allowed (``--allow-unsigned``)."""
    with _refusal(archive):
        if is_legacy_archive(archive):
            legacy = read_legacy(archive, by_kind)
            trust.enforce(legacy.verified.signature, f"{archive.name} (an archive of the seed's scripts) refused")
            return legacy.verified, build_plan(lambda: iter_legacy_objects(legacy), options, bodies=SpooledBodies())
        verified = verify_archive(archive, trust)
        # Read twice (facts, then objects); the planned bodies wait in a spool file, not in memory.
        return verified, build_plan(lambda: iter_archive_objects(archive), options, bodies=SpooledBodies())


def is_legacy(verified: VerifyResult) -> bool:
    return verified.manifest.format == LEGACY_FORMAT


def restore_archive(request: RestoreRequest, kube: Kube, *, now: datetime,
                    progress: Callable[[Entry], None] | None = None,
                    clock: Callable[[], float] = monotonic, stop: StopSignal | None = None) -> RestoreOutcome:
    """``stop``: set it to stop the applier as a signal would (the signals set their own one)."""
    archive = request.archive.resolve()
    with _maybe_locked(request):
        started = clock()
        if not request.dry_run:  # under the lock: no other restore writes this directory now
            recover_journals(request.ledger_dir)
        verified, plan = load_plan(archive, request.plan_options, request.trust)
        if request.expected_sha256 is not None and verified.sha256 != request.expected_sha256:
            raise IntegrityError(f"archive {archive.name} refused, nothing applied: it changed since it was checked "
                                 "(its sha256 differs)")
        log.info("archive %s verified (%d objects); plan: %d to restore, %d left out",
                 archive, verified.objects, plan.count, len(plan.left_out))
        warnings = _warnings(request, verified)
        writer = Writer(kube)
        with _refusal(archive):
            preflight = run_preflight(writer, plan, plan.context)
        path = ledger_path_for(request.ledger_dir, now, request.dry_run)
        ledger = Ledger(str(archive), request.dry_run, request.policy, now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        [], plan.left_out, archive_sha256=verified.sha256)
        legacy = is_legacy(verified)  # the seed's archives hold objects only: no application data
        if legacy:
            log.warning("warning: %s is a legacy archive of the seed's scripts: unsigned, without checksums; "
                        "its structure, YAML and objects were checked", archive.name)
        stop = stop or StopSignal()
        with Journal.create(journal_path_for(path), header(ledger, path, plan.count)) as journal, \
                stop_on_signals(stop):
            _apply(request, archive, (writer, preflight, plan), ledger, stop=stop, journal=journal,
                   progress=progress, clock=clock, legacy=legacy)
            try:
                if request.after_apply is not None and not request.dry_run and not stop.stopped and not legacy:
                    request.after_apply(archive)
            finally:  # the objects were restored: their ledger is written whatever happens after
                if stop.stopped:
                    ledger.interrupted = interruption(stop.signal_name, plan.count, len(ledger.entries))
                    with contextlib.suppress(EnvironmentProblem):  # the final ledger below says it too
                        journal.append({"interrupted": ledger.interrupted})
                ledger.seconds = clock() - started
                write_json_atomic(path, ledger.to_dict(), indent=None)
                journal.done = True
    return RestoreOutcome(ledger, path, verified, plan, warnings)


def _apply(request: RestoreRequest, archive: Path, planned: tuple[Writer, Preflight, Plan], ledger: Ledger, *,
           stop: StopSignal, journal: Journal, progress: Callable[[Entry], None] | None,
           clock: Callable[[], float], legacy: bool = False) -> None:
    """Volumes, then the objects tier by tier (journaled as they complete), then the wait; each skipped after a
    stop. A legacy archive of the seed's scripts holds objects only: no volumes to put back."""
    writer, preflight, plan = planned
    if request.before_apply is not None and not request.dry_run and not stop.stopped and not legacy:
        request.before_apply(archive)
    deadlines = stop.deadline_clock(clock)  # after a stop every wait ends at once
    settings = ObjectSettings(
        writer, request.policy, request.dry_run, plan.context, request.plan_options,
        delete_timeout=request.delete_timeout, namespace_timeout=request.namespace_timeout,
        absent_namespaces=preflight.absent_namespaces if request.dry_run else frozenset(),
        unserved_resources=preflight.unserved_resources if request.dry_run else frozenset(),
        planned=frozenset(obj.key for obj in plan.objects()),
        clock=deadlines,
    )
    applier = Applier(settings, ApplyOptions(request.workers, request.crd_timeout, request.journal_window), progress,
                      stop=stop, on_batch=journal.batch)
    ledger.entries = applier.apply(plan.tiers)
    if request.wait and not request.dry_run and not stop.stopped:
        ledger.wait = wait_until_ready(writer, ledger.entries, request.wait_timeout, clock=deadlines,
                                       progress=request.wait_progress).to_dict()


def _warnings(request: RestoreRequest, verified: VerifyResult) -> tuple[str, ...]:
    warning = fewer_user_objects(verified, request.backup_dir, request.shrink_warn_threshold)
    if warning is None:
        return ()
    log.warning("warning: %s", warning)
    return (warning,)
