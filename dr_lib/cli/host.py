"""``k3s-dr install`` and ``k3s-dr fix``: put k3s-dr on a host, and repair what the checks find."""

from __future__ import annotations

import click

from dr_lib.cli.common import app, finish, gather, print_json
from dr_lib.jobs.host import HostOptions, HostResult, InstallOptions, fix_host, fixable, install_host


def _show(result: HostResult, nothing: str) -> None:
    change = result.change
    migration = result.migration
    verb = "would" if change.dry_run else "did"
    for text in migration.texts() if migration else ():
        click.echo(f"{verb}: {text}")
    if migration is not None and migration.record:
        click.echo(f"migration record: {migration.record}" + (" (marked undone)" if migration.undo else ""))
    if migration is not None and migration.undo:
        return
    if not change.steps:
        click.echo(nothing)
    for step in change.steps:
        click.echo(f"{verb}: {step.describe()}")
        if change.dry_run and step.diff:
            click.echo(step.diff.rstrip("\n"))


@click.command("install")
@click.option("--dry-run", is_flag=True, help="Print the changes (with diffs) and change nothing.")
@click.option("--exec", "exe", metavar="PATH", default=None,
              help="The k3s-dr program the units run [default: this one].")
@click.option("--migrate", is_flag=True, help="First take the seed's scripts out of service: their units and "
              "cron lines disabled and kept under <restore.state_dir>/migrated/ with a record (reversible).")
@click.option("--undo", is_flag=True, help="With --migrate: put back what the newest migration changed (and "
              "install nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@gather(options=InstallOptions)
def install_command(ctx: click.Context, options: InstallOptions, as_json: bool) -> None:
    """Write and enable the backup service and timer, the auto-restore unit, the metrics exporter's
    service (started; config units.exporter), the config file and log rotation; the rendered alert
    rules and dashboard when metrics.prometheus_rules_dir / grafana_dashboards_dir are set.
    The units run sandboxed, as root, the program given by --exec (default: this one): refused (exit 2)
    when anyone but root could change it, its venv or a directory above them.
    Idempotent: a second run changes nothing. Says when the seed's scripts are still in service."""
    context = app(ctx)
    result = install_host(context.config, options, context.config_path)
    for notice in result.notices:
        click.echo(f"k3s-dr: notice: {notice}", err=True)
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result, "nothing to change: k3s-dr is installed as configured")
        for note in result.change.notes:
            click.echo(f"note: {note}")


@click.command("fix")
@click.option("--dry-run", is_flag=True, help="Print the repairs and change nothing.")
@click.option("--exec", "exe", metavar="PATH", default=None,
              help="The k3s-dr program re-rendered units run [default: this one].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@gather(options=HostOptions)
def fix_command(ctx: click.Context, options: HostOptions, as_json: bool) -> None:
    """Repair what the conformance checks find: snapshot and latest links (onto the newest verified
    archive holding user objects, never a backup of a wiped cluster), disabled or masked units, a stopped
    metrics exporter, unit files changed on disk without a daemon-reload, permissions, log rotation. Says
    what it changed; idempotent."""
    result = fix_host(options, app(ctx).config_path)
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result, "nothing to fix")
        for cid, problem in result.change.remaining:
            click.echo(f"{'still failing' if fixable(cid) else 'needs you'}: {cid}: {problem}")
    finish(result)


COMMANDS: list[click.Command] = [install_command, fix_command]
