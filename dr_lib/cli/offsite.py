"""``k3s-dr push | pull``: offsite copies (S3, restic), encrypted with age where configured; ``k3s-dr list
--remote`` lists them (``ls --remote``, the old spelling, stays as a hidden alias)."""

from __future__ import annotations

import click

from dr_lib.cli.common import REPORTER, app, finish, gather, print_json, signature_options
from dr_lib.jobs.offsite import PullOptions, fetch_archive, remote_listing
from dr_lib.jobs.push import PushOptions, push


@click.command("push")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@click.option("--target", "target", default=None, help="Only this offsite target [default: every one configured].")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory whose latest link is pushed [default: config backup.dir].")
@click.option("--no-retention", is_flag=True, help="Do not delete old remote copies after the push.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@gather(options=PushOptions)
def push_command(ctx: click.Context, options: PushOptions, as_json: bool) -> None:
    """Copy ARCHIVE [default: the latest verified archive] to the offsite targets, verified.

    Local archives are never deleted or changed by a push, whatever happens.
    """
    pushed = push(app(ctx).config, options, REPORTER)
    if as_json:
        print_json(pushed.to_dict())
    else:
        for item in pushed.report.reports:
            if item.outcome is not None:
                deleted = ", ".join(item.retention.deleted) if item.retention else ""
                click.echo(f"{item.target:<16} {item.outcome.action:<8} {item.outcome.ref}  "
                           f"{item.outcome.stored_bytes:,} bytes in {item.outcome.seconds:.2f} s"
                           + (f"; retention removed {deleted}" if deleted else ""))
    finish(pushed)


@click.command("pull")
@click.argument("name", required=False)
@click.option("--target", "target", default=None, help="Offsite target [default: the first that has the copy].")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where the archive goes [default: config backup.dir].")
@click.option("--identity", default=None, type=click.Path(dir_okay=False),
              help="age identity file [default: config offsite.identity_file].")
@signature_options("a copy")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@gather(options=PullOptions)
def pull_command(ctx: click.Context, options: PullOptions, as_json: bool) -> None:
    """Fetch NAME [default: the newest good copy], decrypt it, verify it (its signature too), store it
    with its sidecar. A plaintext copy is refused unless offsite.encrypt is off."""
    result = fetch_archive(app(ctx).config, options)
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(f"{result.action}: {result.path} from {result.target} ({result.objects} objects, "
               f"sha256 {result.sha256}{'' if result.identical else ', rebuilt: differs from the pushed file'})")


def print_remote_listing(ctx: click.Context, target: str | None, as_json: bool) -> None:
    """`list --remote`: the copies on each offsite target."""
    listing = remote_listing(app(ctx).config, target)
    if as_json:
        print_json(listing.to_dict())
    else:
        for entry in listing.targets:
            click.echo(f"{entry['target']} ({entry['type']}, {entry.get('where', '?')})"
                       + (f": ERROR {entry['error']}" if entry["error"] else ""))
            for copy in entry["copies"]:
                flag = "encrypted" if copy["encrypted"] else ""
                click.echo(f"  {copy['archive']:<34} {copy['state']:<10} {copy['bytes']:>12,} {flag} {copy['note']}")
    finish(listing)



COMMANDS: list[click.Command] = [push_command, pull_command]
