"""``k3s-dr restore`` and ``k3s-dr diff``: bring a cluster back from an archive, or compare them.

Exit status of ``restore``: 0 complete, 3 partial (some objects failed; see the ledger), 1 failed
(every object failed), 8 the archive was refused (also its signature), 5 another run holds the lock, 130
interrupted (SIGTERM/SIGINT; the ledger says what was applied). ``diff`` exits 0 when the live cluster
matches the archive and 1 when something differs (like ``diff`` and ``kubectl diff``).
"""

from __future__ import annotations

import logging
import sys

import click

from dr_lib.cli.common import REPORTER, app, finish, gather, print_json, signature_options
from dr_lib.cli.params import DURATION, kubeconfig_option
from dr_lib.cli.progress import RestoreProgress
from dr_lib.cli.restore_options import RestoreMode, plan_filters, restore_modes
from dr_lib.config import Config
from dr_lib.jobs.diff import DiffOptions, diff
from dr_lib.jobs.restore import POLICIES, RestoreOptions, RestoreOutcome, restore
from dr_lib.restore.ledger import detail_rows, format_table, summary_rows


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


@click.command("restore")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@kubeconfig_option("Kubeconfig of the cluster to restore into")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--dry-run", is_flag=True, help="Server-side dry run of the whole plan (dryRun=All); nothing changes.")
@click.option("--wait", is_flag=True, help="Wait until restored workloads are Ready and claims Bound.")
@click.option("--wait-timeout", type=DURATION, default=None,
              help="Deadline for --wait: 90s, 10m, 1h30m; a plain number is seconds [default: restore.wait_timeout].")
@click.option("--policy", type=click.Choice(POLICIES), default="skip", show_default=True,
              help="Objects that exist: skip (report differences), update (server-side apply), "
                   "recreate (delete, then create).")
@plan_filters("restore")
@click.option("--ledger-dir", default=None, help="Where the JSON ledger goes [default: <restore.state_dir>/ledgers].")
@click.option("--workers", type=click.IntRange(1, 64), default=16, show_default=True, help="Concurrent writes.")
@click.option("-v", "--verbose", is_flag=True, help="List every object in the table, created ones too.")
@restore_modes
@click.option("--data/--no-data", "data", default=True, show_default=True,
              help="Application data: volume copies back before the objects, dumps into Ready pods after.")
@click.option("--from", "from_remote", default=None, metavar="REMOTE[:NAME]",
              help="Pull the archive from offsite target REMOTE (its newest good copy, or NAME) into backup.dir, "
                   "decrypt and verify it, then restore it.")
@click.option("--identity", default=None,
              help="age identity file for --from and ARCHIVE.age [default: offsite.identity_file].")
@signature_options("an archive")
@click.option("--test-disable-sanitizer", "test_disable_sanitizer", multiple=True, hidden=True,
              help="TEST-ONLY (drills): skip this resource's sanitizer; refused with --auto and --datastore.")
@gather(options=RestoreOptions, mode=RestoreMode)
def restore_command(ctx: click.Context, options: RestoreOptions, mode: RestoreMode, as_json: bool,
                    verbose: bool) -> None:
    """Restore ARCHIVE [default: the snapshot link in backup.dir] into a cluster.

    The archive is verified first, its signature too: a corrupt, hostile, forged or (with verify keys)
    unsigned one is refused before anything is applied. Objects are created tier by tier (CRDs, namespaces,
    storage, RBAC, … workloads), sanitized of what the new cluster must decide; a ledger records each.
    """
    mode.check(dry_run=options.dry_run, sabotage=options.test_disable_sanitizer)
    config = app(ctx).config
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="k3s-dr: %(message)s")
    if mode.auto:
        _auto(config, options, mode, as_json, verbose)
    elif mode.datastore:
        _datastore(config, options, as_json)
    else:
        result = restore(config, options, REPORTER, None if as_json or not sys.stderr.isatty() else RestoreProgress())
        if as_json:
            print_json(result.to_dict())
        else:
            _print_tables(result.outcome, verbose)
        finish(result)


def _auto(config: Config, options: RestoreOptions, mode: RestoreMode, as_json: bool, verbose: bool) -> None:
    from dr_lib.jobs.auto import AutoRestoreOptions, auto_restore  # noqa: PLC0415 - only for --auto

    logging.getLogger("dr_lib.restore").setLevel(logging.INFO)  # the journal tells the boot's story
    result = auto_restore(config, AutoRestoreOptions(options, mode.boot_id, mode.force), REPORTER)
    if as_json:
        print_json(result.to_dict())
    else:
        decision = result.auto.decision
        click.echo(f"auto-restore: {'restore' if decision.restore else 'no restore'}: {decision.reason}")
        if result.auto.restore is not None:
            _print_tables(result.auto.restore, verbose)
    finish(result)


def _datastore(config: Config, options: RestoreOptions, as_json: bool) -> None:
    from dr_lib.jobs.datastore import DatastoreOptions, restore_server_datastore  # noqa: PLC0415

    done = restore_server_datastore(config, DatastoreOptions(options.archive, options.from_remote, options.identity,
                                                             options.verify_keys, options.allow_unsigned), REPORTER)
    if as_json:
        print_json(done.to_dict())
    else:
        result = done.result
        click.echo(f"datastore ({result.kind}) restored into {result.db_path} in {result.seconds:.1f} s; "
                   f"the previous files are in {result.previous}")


@click.command("diff")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@kubeconfig_option("Kubeconfig of the cluster to compare with")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@plan_filters("compare")
@gather(options=DiffOptions)
def diff_command(ctx: click.Context, options: DiffOptions, as_json: bool) -> None:
    """Compare ARCHIVE [default: the snapshot link in backup.dir] with the live cluster, object by
    object, after sanitizing both as restore would: which are missing, which differ and how. Changes
    nothing. Exit status 0: no differences; 1: objects missing or differing (like diff)."""
    differences = diff(app(ctx).config, options)
    if as_json:
        print_json(differences.to_dict())
    else:
        rows: list[tuple[str, ...]] = [("STATE", "KIND", "OBJECT", "DIFFERENCES")]
        for item in differences.changed:
            where = f"{item.namespace}/{item.name}" if item.namespace else item.name
            rows.append((item.state, item.resource, where, "; ".join(item.differences[:5])))
        for line in format_table(rows, max_width=120):
            click.echo(line)
        counts = differences.report.counts
        click.echo(f"\n{counts['missing']} missing, {counts['differs']} differ, {counts['same']} same; "
                   f"{len(differences.report.left_out)} left out by rule")
    finish(differences)


COMMANDS: list[click.Command] = [restore_command, diff_command]
