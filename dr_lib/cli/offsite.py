"""``k3s-dr push | pull | ls``: offsite copies (S3, restic), encrypted with age where configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dr_lib.archive.lock import exclusive_lock
from dr_lib.cli.common import app, print_json
from dr_lib.cli.pushing import MANUAL, lock_path, run_push
from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError, PartialFailure, UsageError
from dr_lib.offsite.crypto import is_encrypted
from dr_lib.offsite.pull import PullResult, pull
from dr_lib.offsite.push import PushReport
from dr_lib.offsite.sealed import unseal
from dr_lib.offsite.targets import open_target, selected


def _identity(config: Config, option: str | None) -> Path:
    return Path(option or config.offsite.identity_file)


def _raise_for(report: PushReport) -> None:
    failures = report.failures
    if not failures:
        return
    if len(failures) == len(report.reports):
        first = failures[0].error
        if first is not None and all(f.error is not None and f.error.exit_code == first.exit_code
                                     for f in failures):
            raise first
    names = ", ".join(f"{f.target}: {f.error}" for f in failures)
    raise PartialFailure(f"push failed for {len(failures)} of {len(report.reports)} targets: {names}",
                         hint="the local archives are untouched; run `k3s-dr push` again when fixed")


@click.command("push")
@click.argument("archive", required=False, type=click.Path(dir_okay=False))
@click.option("--target", "target", default=None, help="Only this offsite target [default: every one configured].")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory whose latest link is pushed [default: config backup.dir].")
@click.option("--no-retention", is_flag=True, help="Do not delete old remote copies after the push.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def push_command(ctx: click.Context, archive: str | None, target: str | None, directory: str | None,  # noqa: PLR0917
                 no_retention: bool, as_json: bool) -> None:
    """Copy ARCHIVE [default: the latest verified archive] to the offsite targets, verified.

    Local archives are never deleted or changed by a push, whatever happens.
    """
    config = app(ctx).config
    path = Path(archive) if archive else Path(directory or config.backup.dir) / config.backup.latest_link
    if not path.exists():
        raise DRError(f"nothing to push: {str(path)!r} does not exist",
                      hint="name an archive, or run `k3s-dr backup` first")
    report = run_push(config, path, target, trigger=MANUAL, retention=not no_retention)
    if as_json:
        print_json(report.to_dict())
    else:
        for item in report.reports:
            if item.outcome is not None:
                deleted = ", ".join(item.retention.deleted) if item.retention else ""
                click.echo(f"{item.target:<16} {item.outcome.action:<8} {item.outcome.ref}  "
                           f"{item.outcome.stored_bytes:,} bytes in {item.outcome.seconds:.2f} s"
                           + (f"; retention removed {deleted}" if deleted else ""))
    _raise_for(report)


def fetch_archive(config: Config, target: str | None, name: str | None, directory: str | None,
                  identity: str | None) -> PullResult:
    """Pull a verified archive into the backup directory (restore --from uses this too)."""
    with exclusive_lock(lock_path(config), "pull from offsite"):
        return pull(config.offsite, target, name, Path(directory or config.backup.dir),
                    _identity(config, identity), now=utc_now(), lock_file=Path(config.backup.lock_file))


def fetch_for_restore(config: Config, source: str, archive: str | None, identity: str | None) -> str:
    """``restore --from REMOTE[:NAME]``: pull (decrypt, verify) into backup.dir; the path to restore."""
    if archive is not None:
        raise UsageError(f"restore got both ARCHIVE {archive!r} and --from {source!r}: accepted is one of them")
    target, _sep, name = source.partition(":")
    result = fetch_archive(config, target or None, name or None, None, identity)
    click.echo(f"k3s-dr: {result.action} {result.path.name} from offsite target {result.target} "
               f"(verified, {result.objects} objects)", err=True)
    return str(result.path)


def archive_for_restore(config: Config, archive: str | None, source: str | None, identity: str | None) -> str | None:
    """What ``restore`` restores: ARCHIVE as given; for ``ARCHIVE.age`` a verified plaintext beside it;
    with ``--from REMOTE[:NAME]`` a copy pulled, decrypted and verified into backup.dir."""
    if source:
        return fetch_for_restore(config, source, archive, identity)
    if archive is not None and is_encrypted(archive):
        plain = unseal(Path(archive), _identity(config, identity), utc_now())
        click.echo(f"k3s-dr: decrypted {Path(archive).name} to {plain} (verified)", err=True)
        return str(plain)
    return archive


@click.command("pull")
@click.argument("name", required=False)
@click.option("--target", "target", default=None, help="Offsite target [default: the first that has the copy].")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where the archive goes [default: config backup.dir].")
@click.option("--identity", default=None, type=click.Path(dir_okay=False),
              help="age identity file [default: config offsite.identity_file].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def pull_command(ctx: click.Context, name: str | None, target: str | None, directory: str | None,  # noqa: PLR0917
                 identity: str | None, as_json: bool) -> None:
    """Fetch NAME [default: the newest good copy], decrypt it, verify it, store it with its sidecar."""
    result = fetch_archive(app(ctx).config, target, name, directory, identity)
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(f"{result.action}: {result.path} from {result.target} ({result.objects} objects, "
               f"sha256 {result.sha256}{'' if result.identical else ', rebuilt: differs from the pushed file'})")


def _remote_listing(config: Config, target: str | None) -> tuple[list[dict[str, Any]], list[DRError]]:
    listing: list[dict[str, Any]] = []
    errors: list[DRError] = []
    for name, target_config in selected(config.offsite, target):
        entry: dict[str, Any] = {"target": name, "type": target_config.type, "copies": [], "error": None}
        try:
            opened = open_target(name, config.offsite)
            entry["where"] = opened.where
            copies = opened.list_copies(None)
        except DRError as exc:
            entry["error"], entry["exit_code"] = str(exc), exc.exit_code
            errors.append(exc)
        else:
            entry["copies"] = [c.to_dict() for c in copies]
            entry["good"] = sum(1 for c in copies if c.good)
            entry["incomplete"] = len(copies) - entry["good"]
        listing.append(entry)
    return listing, errors


@click.command("ls")
@click.option("--remote", is_flag=True, help="List the copies on the offsite targets.")
@click.option("--target", "target", default=None, help="Only this offsite target.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def ls_command(ctx: click.Context, remote: bool, target: str | None, as_json: bool) -> None:
    """Remote copies (with --remote): good ones, and incomplete uploads that are never used."""
    if not remote:
        from dr_lib.cli.backup import list_archives  # noqa: PLC0415 - `ls` alone is the local `list`

        ctx.invoke(list_archives, directory=None, as_json=as_json)
        return
    listing, errors = _remote_listing(app(ctx).config, target)
    if as_json:
        print_json({"targets": listing})
    else:
        for entry in listing:
            click.echo(f"{entry['target']} ({entry['type']}, {entry.get('where', '?')})"
                       + (f": ERROR {entry['error']}" if entry["error"] else ""))
            for copy in entry["copies"]:
                flag = "encrypted" if copy["encrypted"] else ""
                click.echo(f"  {copy['archive']:<34} {copy['state']:<10} {copy['bytes']:>12,} {flag} {copy['note']}")
    if errors and len(errors) == len(listing):
        raise errors[0]


COMMANDS: list[click.Command] = [push_command, pull_command, ls_command]
