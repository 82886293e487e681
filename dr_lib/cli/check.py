"""``k3s-dr check``: judge hosts against the conformance controls, and leave the reports."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dr_lib.cli.common import app, print_json
from dr_lib.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from dr_lib.errors import ChecksFailed


def _progress(line: str) -> None:
    click.echo(line, err=True)


@click.command("check")
@click.option("--hosts", default=None, metavar="SPECS",
              help="Hosts to judge: comma-separated testinfra specs (docker://NAME, ssh://USER@HOST, "
                   "ansible://all?ansible_inventory=PATH, local://) [default: this machine].")
@click.option("-n", "--workers", type=click.IntRange(1, 64), default=None,
              help="Judge that many hosts in parallel (pytest-xdist: pip install 'k3s-dr[checks]').")
@click.option("--reports", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Directory under which checks-<UTC time>/ is created: report.html (self-contained), "
                   "junit.xml, checks.json, SHA256SUMS.")
@click.option("--dr-config", "dr_config", default=None, metavar="PATH",
              help="k3s-dr's config file on the hosts under test [default: the global --config, "
                   f"${CONFIG_ENV}, or {DEFAULT_CONFIG_PATH}].")
@click.option("--sudo", is_flag=True, help="Run the checks' commands on the hosts with sudo (testinfra's --sudo).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: passed, failed, skipped (control counts), report_html, seconds, …")
@click.pass_context
def check(  # noqa: PLR0917 - click passes each option as an argument
    ctx: click.Context, hosts: str | None, workers: int | None, reports: str, dr_config: str | None, sudo: bool,
    as_json: bool,
) -> None:
    """Judge hosts against the conformance controls (docs/checks.md), each control one test: pass,
    fail, n/a or waived. Run it as root on the host it judges, or with --sudo. Exit status 0 when
    no control failed, 1 when one did (or a host could not be read), 2 for bad options."""
    # pytest and testinfra load only when checks run: every other command starts faster.
    from dr_lib.hostcheck.hosts import parse_hosts  # noqa: PLC0415
    from dr_lib.hostcheck.runner import CheckOptions, run_checks  # noqa: PLC0415

    config_path = dr_config or app(ctx).config_path or os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)
    options = CheckOptions(hosts=parse_hosts(hosts) if hosts is not None else (), reports_root=Path(reports),
                           config_path=config_path, sudo=sudo, workers=workers)
    outcome = run_checks(options, _progress)
    if as_json:
        print_json(outcome.to_json())
    else:
        click.echo(outcome.summary())
    if outcome.failed:
        raise ChecksFailed(f"{outcome.failed} of {len(outcome.results)} control results failed "
                           f"(report: {outcome.report_html})")


COMMANDS: list[click.Command] = [check]
