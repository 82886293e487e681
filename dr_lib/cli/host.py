"""``k3s-dr install`` and ``k3s-dr fix``: put k3s-dr on a host, and repair what the checks find."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dr_lib.checks.controls import BY_ID
from dr_lib.cli.common import app, print_json
from dr_lib.cli.metrics import monitoring_files
from dr_lib.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from dr_lib.errors import PartialFailure
from dr_lib.host.fix import fix
from dr_lib.host.install import HostChange, default_exe, install


def _config_path(ctx: click.Context) -> str:
    chosen = app(ctx).config_path or os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)
    return str(Path(chosen).absolute())


def _show(change: HostChange, nothing: str) -> None:
    if not change.steps:
        click.echo(nothing)
    verb = "would" if change.dry_run else "did"
    for step in change.steps:
        click.echo(f"{verb}: {step.describe()}")
        if change.dry_run and step.diff:
            click.echo(step.diff.rstrip("\n"))


def _as_json(change: HostChange, **extra: object) -> dict[str, object]:
    return {
        "dry_run": change.dry_run,
        "changed": change.changed,
        "steps": [s.as_json() for s in change.steps],
        "remaining": [{"control": cid, "problem": problem, "fixable": cid in BY_ID and BY_ID[cid].fixable}
                      for cid, problem in change.remaining],
        **extra,
    }


@click.command("install")
@click.option("--dry-run", is_flag=True, help="Print the changes (with diffs) and change nothing.")
@click.option("--exec", "exe", metavar="PATH", default=None,
              help="The k3s-dr program the units run [default: this one].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def install_command(ctx: click.Context, dry_run: bool, exe: str | None, as_json: bool) -> None:
    """Write and enable the backup service and timer, the auto-restore unit, the metrics exporter's
    service (started; config units.exporter), the config file and log rotation; the rendered alert
    rules and dashboard when metrics.prometheus_rules_dir / grafana_dashboards_dir are set.
    Idempotent: a second run changes nothing."""
    config_path = _config_path(ctx)
    program = exe or default_exe()
    config = app(ctx).config
    change = install(config, program, config_path, dry_run=dry_run, extra=monitoring_files(config))
    if as_json:
        print_json(_as_json(change, config=config_path, exec=program))
    else:
        _show(change, "nothing to change: k3s-dr is installed as configured")


@click.command("fix")
@click.option("--dry-run", is_flag=True, help="Print the repairs and change nothing.")
@click.option("--exec", "exe", metavar="PATH", default=None,
              help="The k3s-dr program re-rendered units run [default: this one].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def fix_command(ctx: click.Context, dry_run: bool, exe: str | None, as_json: bool) -> None:
    """Repair what the conformance checks find: snapshot and latest links (onto the newest verified
    archive), disabled or masked units, a stopped metrics exporter, unit files changed on disk
    without a daemon-reload, permissions, log rotation. Says what it changed; idempotent."""
    config_path = _config_path(ctx)
    change = fix(config_path, exe or default_exe(), dry_run=dry_run)
    if as_json:
        print_json(_as_json(change, config=config_path))
    else:
        _show(change, "nothing to fix")
        for cid, problem in change.remaining:
            kind = "still failing" if BY_ID.get(cid) and BY_ID[cid].fixable else "needs you"
            click.echo(f"{kind}: {cid}: {problem}")
    unfixed = [cid for cid, _ in change.remaining if cid in BY_ID and BY_ID[cid].fixable]
    if unfixed and not dry_run:
        raise PartialFailure(f"fix could not repair: {', '.join(unfixed)}")


COMMANDS: list[click.Command] = [install_command, fix_command]
