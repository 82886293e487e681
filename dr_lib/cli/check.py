"""``k3s-dr check``: judge hosts against the conformance controls, and leave the reports."""

from __future__ import annotations

import click

from dr_lib.cli.common import REPORTER, app, finish, gather, print_json
from dr_lib.cli.params import refuse_n_for
from dr_lib.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from dr_lib.jobs.check import HostCheckOptions, check_hosts


@click.command("check")
@click.option("--hosts", default=None, metavar="SPECS",
              help="Hosts to judge: comma-separated testinfra specs (docker://NAME, ssh://USER@HOST, "
                   "ansible://all?ansible_inventory=PATH, local://) [default: this machine].")
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Judge N hosts in parallel (pytest-xdist: pip install 'k3s-dr[checks]').")
@refuse_n_for("--workers N (hosts judged in parallel)")
@click.option("--reports", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Directory under which checks-<UTC time>/ is created: report.html (self-contained), "
                   "junit.xml, checks.json, SHA256SUMS.")
@click.option("--dr-config", "dr_config", default=None, metavar="PATH",
              help="k3s-dr's config file on the hosts under test [default: the global --config, "
                   f"${CONFIG_ENV}, or {DEFAULT_CONFIG_PATH}].")
@click.option("--sudo", is_flag=True, help="Run the checks' commands on the hosts with sudo (testinfra's --sudo).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: passed, failed, skipped (control counts), report_html, seconds, …")
@gather(options=HostCheckOptions)
def check(ctx: click.Context, options: HostCheckOptions, as_json: bool) -> None:
    """Judge hosts against the conformance controls (docs/checks.md), each control one test: pass,
    fail, n/a or waived. Run it as root on the host it judges, or with --sudo. Exit status 0 when
    no control failed, 1 when one did (or a host could not be read), 2 for bad options. (-n, which
    was --workers once, is --namespace in k3s-dr: check refuses it and names --workers.)"""
    checked = check_hosts(options, REPORTER, app(ctx).config_path)
    if as_json:
        print_json(checked.to_dict())
    else:
        click.echo(checked.outcome.summary())
    finish(checked)


COMMANDS: list[click.Command] = [check]
