"""``k3s-dr report``: evidence over time (the index of every report) and one report's seal."""

from __future__ import annotations

import click

from dr_lib.cli.common import app, finish, print_json
from dr_lib.jobs.evidence import index_reports, summarize_reports, verify_report


@click.group("report")
def report() -> None:
    """Drill and check reports: index them, summarize them, verify one."""


@report.command("index")
@click.argument("directory", default="reports", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: index_html, index_csv, reports (how many), tampered, unreadable.")
def index(directory: str, as_json: bool) -> None:
    """Write DIRECTORY/index.html and index.csv: every drill and check report under DIRECTORY
    (default reports/) with its verdict, RTO/RPO against targets, archive, Kubernetes versions,
    whether its SHA256SUMS still verifies, and the framework requirements it supports."""
    result = index_reports(directory)
    if as_json:
        print_json(result.to_json())
        return
    summary = result.to_json()
    click.echo(f"{summary['reports']} reports ({len(summary['tampered'])} tampered, {len(summary['unreadable'])} "
               f"unreadable): {result.index_html}, {result.index_csv}")


@report.command("summary")
@click.argument("directory", default="reports", type=click.Path(file_okay=False))
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print Markdown (a heading and a table) for a CI job's summary page ($GITHUB_STEP_SUMMARY).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: directory, overall, reports [{report, started, kind, verdict, "
                   "rto_seconds, rto_target_seconds, rpo_seconds, rpo_target_seconds, archive, archive_sha256, "
                   "integrity, problem}].")
def summary(directory: str, as_markdown: bool, as_json: bool) -> None:
    """Summarize every report under DIRECTORY (default reports/): verdict, RTO and RPO against their
    targets, archive, seal. Reads only; exits 0 whatever the verdicts (the drill's own exit code judges)."""
    found = summarize_reports(directory)
    if as_json:
        print_json(found.to_json())
    elif as_markdown:
        click.echo(found.markdown(), nl=False)
    else:
        click.echo(f"{directory}: {found.to_json()['overall']}")
        for entry in found.entries:
            click.echo(f"  {entry.path}: {entry.kind} {entry.verdict_text}, integrity {entry.integrity}")


@report.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--verify-key", "verify_keys", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Require SHA256SUMS.sig by this Ed25519 verify key (repeatable) [default: config "
                   "trust.verify_keys; none: a signature is reported as not checked].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: status, problems, signature.")
@click.pass_context
def verify(ctx: click.Context, directory: str, verify_keys: tuple[str, ...], as_json: bool) -> None:
    """Check a report directory's seal: its signature (SHA256SUMS.sig) by a verify key, then every
    file listed in SHA256SUMS intact and nothing added (exit 0), or what differs (exit 8). Checksums
    alone show the files are as sealed, not who sealed them: the signature does."""
    checked = verify_report(directory, app(ctx).config, verify_keys)
    if as_json:
        print_json(checked.to_dict())
    else:
        against = f" (verify keys: {', '.join(checked.key_ids)})" if checked.key_ids else ""
        click.echo(f"{directory}: {checked.seal.describe()}{against}")
    finish(checked)


COMMANDS: list[click.Command] = [report]
