"""``k3s-dr restore`` and ``k3s-dr diff``: bring a cluster back from an archive, or compare them.

Exit status of ``restore``: 0 complete, 3 partial (some objects failed; see the ledger),
1 failed (every object failed), 8 the archive was refused, 5 another run holds the lock,
130 interrupted by SIGTERM/SIGINT (the ledger says what was applied).
``diff`` exits 0 when the live cluster matches the archive and 1 when something differs
(like ``diff`` and ``kubectl diff``).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

import click

from dr_lib.archive import exclusive_lock
from dr_lib.cli import metrics_record
from dr_lib.cli.common import app, print_json
from dr_lib.cli.offsite import archive_for_restore
from dr_lib.cli.restore_options import (
    plan_options,
    resolve_archive,
    resolve_kubeconfig,
    restore_filters,
    sabotaged_sanitizers,
)
from dr_lib.clock import monotonic, utc_now
from dr_lib.config import Config, duration_seconds
from dr_lib.errors import DRError, EnvironmentProblem, Interrupted, PartialFailure, UsageError
from dr_lib.hooks import DataRestorer, HookSettings
from dr_lib.kube.client import Kube
from dr_lib.kube.writing import Writer
from dr_lib.restore.auto import boot_identity
from dr_lib.restore.auto_runner import run_auto
from dr_lib.restore.datastore import DatastoreTarget, SystemdK3s, restore_datastore
from dr_lib.restore.diff import SAME, diff_archive
from dr_lib.restore.ledger import Entry, Ledger, detail_rows, format_table, summary_rows
from dr_lib.restore.objects import POLICIES
from dr_lib.restore.run import RestoreOutcome, RestoreRequest, restore_archive

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
INIT_STAT_FILE = Path("/proc/1/stat")  # init's start time: see restore.auto.boot_identity


class Progress:
    """A line on the terminal every couple of seconds while objects are restored."""

    EVERY_SECONDS = 2.0

    def __init__(self) -> None:
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._last = monotonic()

    def __call__(self, entry: Entry) -> None:
        with self._lock:
            self.done += 1
            self.failed += entry.result == "failed"
            if monotonic() - self._last >= self.EVERY_SECONDS:
                self._last = monotonic()
                click.echo(f"k3s-dr: {self.done} objects done ({self.failed} failed), tier {entry.tier}", err=True)


def _ledger_dir(config: Config, option: str | None) -> Path:
    return Path(option) if option else Path(config.restore.state_dir) / "ledgers"


def outcome_json(outcome: RestoreOutcome) -> dict[str, Any]:
    ledger = outcome.ledger
    return {
        "archive": ledger.archive, "archive_sha256": ledger.archive_sha256, "dry_run": ledger.dry_run,
        "policy": ledger.policy, "counts": ledger.counts, "seconds": round(ledger.seconds, 3),
        "complete": ledger.complete, "outcome": ledger.outcome, "ledger": str(outcome.ledger_path),
        "left_out": len(ledger.left_out), "planned": outcome.plan.count, "wait": ledger.wait,
        "failed": [f"{e.resource} {e.where}: {e.reason}" for e in ledger.failures()[:20]],
    }


def _print_tables(outcome: RestoreOutcome, verbose: bool) -> None:
    ledger = outcome.ledger
    for line in format_table(summary_rows(ledger)):
        click.echo(line)
    details = detail_rows(ledger, include_created=verbose)
    if len(details) > 1:
        click.echo("")
        for line in format_table(details):
            click.echo(line)
    if ledger.wait is not None:
        state = "ready" if ledger.wait.get("ready") else f"NOT ready ({ledger.wait.get('pending_count')} pending)"
        click.echo(f"\nworkloads {state} after {ledger.wait.get('seconds')} s")
    verb = "dry run" if ledger.dry_run else "restore"
    click.echo(f"\n{verb} {ledger.outcome} in {ledger.seconds:.1f} s: {len(ledger.left_out)} objects left out by "
               f"rule; ledger: {outcome.ledger_path}")


def raise_for_outcome(ledger: Ledger, path: Path) -> None:
    if ledger.interrupted is not None:
        raise Interrupted(f"restore interrupted ({ledger.interrupted['reason']}): {len(ledger.entries)} objects "
                          f"attempted, {ledger.interrupted['not_attempted']} not", hint=f"see the ledger {path}")
    if ledger.outcome == "partial":
        failed = ledger.counts["failed"]
        waited = "" if ledger.wait is None or ledger.wait.get("ready") else "; workloads not ready in time"
        raise PartialFailure(f"restore partial: {failed} objects failed{waited}", hint=f"see the ledger {path}")
    if ledger.outcome == "failed":
        raise DRError(f"restore failed: all {len(ledger.entries)} objects failed", hint=f"see the ledger {path}")


@click.command("restore")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@click.option("--kubeconfig", default=None, help="Kubeconfig of the cluster [default: config 'kubeconfig'].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--dry-run", is_flag=True, help="Server-side dry run of the whole plan (dryRun=All); nothing changes.")
@click.option("--wait", is_flag=True, help="Wait until restored workloads are Ready and claims Bound.")
@click.option("--wait-timeout", default=None, help="Deadline for --wait, e.g. 10m [default: restore.wait_timeout].")
@click.option("--policy", type=click.Choice(POLICIES), default="skip", show_default=True,
              help="Objects that exist: skip (report differences), update (server-side apply), "
                   "recreate (delete, then create).")
@restore_filters
@click.option("--ledger-dir", default=None, help="Where the JSON ledger goes [default: <restore.state_dir>/ledgers].")
@click.option("--workers", type=click.IntRange(1, 64), default=16, show_default=True, help="Concurrent writes.")
@click.option("-v", "--verbose", is_flag=True, help="List every object in the table, created ones too.")
@click.option("--auto", is_flag=True, help="Boot-time mode: restore only if the cluster lost the snapshot's "
              "objects (restore.auto_loss_threshold), at most once per boot.")
@click.option("--force", is_flag=True, help="With --auto: restore whatever the cluster looks like.")
@click.option("--boot-id", default=None, help="With --auto: this boot's id [default: read from /proc].")
@click.option("--datastore", is_flag=True, help="Restore the k3s server's datastore snapshot and token from the "
              "archive (stops and starts the k3s unit) instead of API objects.")
@click.option("--data/--no-data", "data", default=True, show_default=True,
              help="Application data: volume copies back before the objects, dumps into Ready pods after.")
@click.option("--from", "from_remote", default=None, metavar="REMOTE[:NAME]",
              help="Pull the archive from offsite target REMOTE (its newest good copy, or NAME) into backup.dir, "
                   "decrypt and verify it, then restore it.")
@click.option("--identity", default=None,
              help="age identity file for --from and ARCHIVE.age [default: offsite.identity_file].")
@click.option("--test-disable-sanitizer", "test_disable_sanitizer", multiple=True, hidden=True,
              help="TEST-ONLY (drills): skip this resource's sanitizer; refused with --auto.")
@click.pass_context
def restore_command(ctx: click.Context, /, archive: str | None, **options: Any) -> None:
    """Restore ARCHIVE [default: the snapshot link in backup.dir] into a cluster.

    The archive is verified first; a corrupt or hostile one is refused before anything is
    applied. Objects are created tier by tier (CRDs, namespaces, storage, RBAC, … workloads),
    sanitized of what the new cluster must decide itself; the ledger records every object.
    """
    if options["force"] and not options["auto"]:
        raise UsageError("--force works with --auto only: a plain restore always restores")
    if options["auto"] and options["dry_run"]:
        raise UsageError("--auto with --dry-run: accepted is one of them (auto-restore decides, then restores)")
    if options["datastore"] and (options["auto"] or options["dry_run"]):
        raise UsageError("--datastore restores the whole server: accepted without --auto and --dry-run")
    broken = sabotaged_sanitizers(options["test_disable_sanitizer"], auto=options["auto"],
                                      datastore=options["datastore"])
    config = app(ctx).config
    archive = archive_for_restore(config, archive, options["from_remote"], options["identity"])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="k3s-dr: %(message)s")
    if broken:
        click.echo(f"k3s-dr: warning: TEST-ONLY: the sanitizer of {', '.join(sorted(broken))} is switched off: this "
                   "restore is broken on purpose", err=True)
    workers = int(options["workers"])
    filters = plan_options(options, disabled_sanitizers=broken)
    restorer = DataRestorer(Path(resolve_kubeconfig(config, options["kubeconfig"])), HookSettings.from_config(
        config.hooks, include_namespaces=filters.include_namespaces, exclude_namespaces=filters.exclude_namespaces,
        namespace_mapping=filters.namespace_mapping)) if options["data"] else None
    request = RestoreRequest(
        archive=resolve_archive(config, archive, must_exist=not options["auto"]),
        ledger_dir=_ledger_dir(config, options["ledger_dir"]),
        lock_file=Path(config.backup.lock_file), plan_options=filters, policy=options["policy"],
        dry_run=options["dry_run"], wait=options["wait"],
        wait_timeout=float(duration_seconds(options["wait_timeout"] or config.restore.wait_timeout)), workers=workers,
        before_apply=restorer.before_apply if restorer else None,
        after_apply=restorer.after_apply if restorer else None,
    )
    if options["auto"]:
        _auto(config, request, options, restorer)
        return
    if options["datastore"]:
        _datastore(config, request.archive, options["as_json"])
        return
    with Kube.from_kubeconfig(resolve_kubeconfig(config, options["kubeconfig"]), pool_size=workers) as kube:
        try:
            progress = None if options["as_json"] or not sys.stderr.isatty() else Progress()
            outcome = restore_archive(request, kube, now=utc_now(), progress=progress)
        except DRError as exc:
            metrics_record.restore_failed(config, exc, dry_run=request.dry_run)
            raise
    metrics_record.restore_done(config, outcome)
    if options["as_json"]:
        print_json({**outcome_json(outcome), **_data_json(restorer)})
    else:
        _print_tables(outcome, options["verbose"])
    raise_for_outcome(outcome.ledger, outcome.ledger_path)
    _raise_for_data(restorer)


def _data_json(restorer: DataRestorer | None) -> dict[str, Any]:
    return {} if restorer is None else {"data": restorer.report}


def _raise_for_data(restorer: DataRestorer | None) -> None:
    if restorer is not None and restorer.partial:
        raise PartialFailure("restore of application data partial: " + "; ".join(restorer.failures)[:1500])


def _boot_id(option: str | None) -> str:
    if option:
        return option
    try:
        kernel = BOOT_ID_FILE.read_text(encoding="ascii")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the boot id from {BOOT_ID_FILE}: {exc.strerror}",
                                 hint="pass --boot-id") from None
    try:
        init_stat: str | None = INIT_STAT_FILE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        init_stat = None  # /proc mounted with hidepid: the kernel's boot id alone
    return boot_identity(kernel, init_stat)


def _auto(config: Config, request: RestoreRequest, options: dict[str, Any],
          restorer: DataRestorer | None = None) -> None:
    logging.getLogger("dr_lib.restore").setLevel(logging.INFO)
    with Kube.from_kubeconfig(resolve_kubeconfig(config, options["kubeconfig"]), pool_size=request.workers) as kube:
        result = run_auto(request, kube, boot_id=_boot_id(options["boot_id"]),
                          state_dir=Path(config.restore.state_dir), threshold=config.restore.auto_loss_threshold,
                          force=options["force"], now=utc_now())
    metrics_record.auto_restore_done(config, result)
    summary: dict[str, Any] = {"auto": result.to_dict()}
    if result.restore is not None:
        summary.update(outcome_json(result.restore))
        summary.update(_data_json(restorer))
    if options["as_json"]:
        print_json(summary)
    else:
        verdict = "restore" if result.decision.restore else "no restore"
        click.echo(f"auto-restore: {verdict}: {result.decision.reason}")
        if result.restore is not None:
            _print_tables(result.restore, options["verbose"])
    if result.restore is not None:
        raise_for_outcome(result.restore.ledger, result.restore.ledger_path)
        _raise_for_data(restorer)


def _datastore(config: Config, archive: Path, as_json: bool) -> None:
    data_dir = Path(config.backup.k3s_data_dir)
    try:
        with exclusive_lock(config.backup.lock_file, "restore the datastore"):
            result = restore_datastore(archive, DatastoreTarget(data_dir), SystemdK3s(config.units.k3s, data_dir),
                                       now=utc_now())
    except DRError as exc:
        metrics_record.restore_failed(config, exc)
        raise
    metrics_record.datastore_restore_done(config, archive, result.seconds)
    if as_json:
        print_json({"datastore": result.to_dict(), "archive": str(archive.resolve())})
    else:
        click.echo(f"datastore ({result.kind}) restored into {result.db_path} in {result.seconds:.1f} s; "
                   f"the previous files are in {result.previous}")


@click.command("diff")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@click.option("--kubeconfig", default=None, help="Kubeconfig of the cluster [default: config 'kubeconfig'].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@restore_filters
@click.pass_context
def diff_command(ctx: click.Context, /, archive: str | None, kubeconfig: str | None, as_json: bool,
                 **filters: Any) -> None:
    """Per object, what differs between ARCHIVE and the live cluster (after sanitizing both).

    Exit status 0: no differences; 1: objects missing or differing.
    """
    config = app(ctx).config
    with Kube.from_kubeconfig(resolve_kubeconfig(config, kubeconfig)) as kube:
        report = diff_archive(resolve_archive(config, archive), Writer(kube), plan_options(filters))
    counts = report.counts
    if as_json:
        print_json(report.to_dict())
    else:
        rows: list[tuple[str, ...]] = [("STATE", "KIND", "OBJECT", "DIFFERENCES")]
        for item in report.objects:
            if item.state != SAME:
                where = f"{item.namespace}/{item.name}" if item.namespace else item.name
                rows.append((item.state, item.resource, where, "; ".join(item.differences[:5])))
        for line in format_table(rows, max_width=120):
            click.echo(line)
        click.echo(f"\n{counts['missing']} missing, {counts['differs']} differ, {counts['same']} same; "
                   f"{len(report.left_out)} left out by rule")
    if counts["missing"] or counts["differs"]:
        raise DRError(f"the live cluster differs from the archive: {counts['missing']} objects missing, "
                      f"{counts['differs']} differ")


COMMANDS: list[click.Command] = [restore_command, diff_command]
