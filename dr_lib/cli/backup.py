"""`k3s-dr backup | verify | list`: take verified backups, check an archive, see what is on disk (or offsite)."""

from __future__ import annotations

import copy
import sys
from typing import Any

import click

from dr_lib.cli.common import REPORTER, app, finish, gather, print_json, signature_options
from dr_lib.cli.params import AliasedOption, kubeconfig_option, namespace_option
from dr_lib.cli.progress import BackupStatusLine
from dr_lib.errors import UsageError
from dr_lib.jobs.archives import VerifyOptions
from dr_lib.jobs.archives import list_archives as list_job
from dr_lib.jobs.archives import verify as verify_job
from dr_lib.jobs.autopush import summary
from dr_lib.jobs.backup import DEFAULT_PAGE_SIZE, DEFAULT_WORKERS, BackupOptions, BackupOutcome
from dr_lib.jobs.backup import backup as backup_job


def _signed(signature: dict[str, Any]) -> str:
    return f"by key {signature['key_id']}" if signature.get("state") == "valid" else "no (no signing key)"


def _summary(outcome: BackupOutcome) -> str:
    result = outcome.result
    links = ", ".join(f"{name} → {target}" for name, target in result.links.items())
    lines = [f"archive  {result.archive}", f"objects  {result.objects} in {len(result.kinds)} kinds",
             f"size     {result.bytes:,} bytes, sha256 {result.sha256}",
             f"datastore {result.datastore['kind'] if result.datastore else 'none'}",
             f"verified yes; promoted {'yes' if result.promoted else 'NO'}; links: {links}",
             f"signed   {_signed(result.signature)}",
             f"took     {result.seconds:.2f} s"]
    if result.deleted:
        lines.append(f"rotated  {', '.join(result.deleted)}")
    lines += [f"warning  {warning}" for warning in result.warnings]
    return "\n".join(lines) + summary(outcome.pushed)


@click.command("backup")
@kubeconfig_option()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory [default: config backup.dir, /var/backups/k3s-cluster].")
@click.option("--all-resources", is_flag=True, help="Every listable, creatable resource (API discovery).")
@click.option("--kind", "--include-kind", "include_kinds", cls=AliasedOption, aliases=("--include-kind",),
              multiple=True, help="Only these kinds (repeatable).")
@click.option("--exclude-kind", "exclude_kinds", multiple=True, help="Leave these kinds out (repeatable).")
@namespace_option("include_namespaces", "Only these namespaces for namespaced kinds (repeatable).",
                  aliases=("--include-namespace",))
@click.option("--exclude-namespace", "exclude_namespaces", multiple=True, help="Leave these namespaces out.")
@click.option("--selector", "-l", default=None, help="Label selector applied to every LIST.")
@click.option("--datastore/--no-datastore", "datastore", default=None,
              help="Require / skip the k3s datastore snapshot [default: when this host is a k3s server].")
@click.option("--allow-shrink", is_flag=True, help="Promote even if the user objects dropped sharply, or to none "
              "(objects deleted on purpose).")
@click.option("--data/--no-data", "data", default=True, show_default=True,
              help="Application data: run pods' backup hooks and store dumps and volumes in the data repository "
                   "beside the archives (docs/hooks.md).")
@click.option("--workers", type=click.IntRange(1, 32), default=DEFAULT_WORKERS, show_default=True, hidden=True)
@click.option("--page-size", type=click.IntRange(10, 10000), default=DEFAULT_PAGE_SIZE, show_default=True,
              hidden=True)
@click.option("--push/--no-push", "push", default=None,
              help="Push the verified archive to every offsite target [default: config offsite.push_after_backup "
                   "when targets are configured and the archive went to backup.dir].")
@click.option("--signing-key", "signing_key", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Sign the archive's manifest with this Ed25519 key (`k3s-dr keygen`) [default: config "
                   "trust.signing_key: the pair `k3s-dr install` made, when it exists].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@gather(options=BackupOptions)
def backup(ctx: click.Context, options: BackupOptions, as_json: bool) -> None:
    """Back up the cluster into a verified archive and point the links at it; then push it offsite."""
    outcome = backup_job(app(ctx).config, options, REPORTER, BackupStatusLine() if sys.stderr.isatty() else None)
    if as_json:
        print_json(outcome.to_dict())
    else:
        click.echo(_summary(outcome))
    finish(outcome)


@click.command("verify")
@click.argument("archive", type=click.Path(dir_okay=False))
@signature_options("an archive")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (signature: valid, invalid, missing "
              "or unchecked, and key_id).")
@gather(options=VerifyOptions)
def verify(ctx: click.Context, options: VerifyOptions, as_json: bool) -> None:
    """Check an archive completely, its signature included; when it passes, write (refresh) its
    .verified.json sidecar. Exit 8 when it is damaged, forged, or not signed by a verify key given. A legacy
    archive of the seed's scripts (k3s-cluster-backup-N.tar.gz) is checked as far as it can be: structure,
    YAML, objects per kind (it has no checksums and no signature; no sidecar is written)."""
    verified = verify_job(app(ctx).config, options, REPORTER)
    if as_json:
        print_json(verified.to_dict())
    else:
        click.echo(verified.text())
    finish(verified)


@click.command("list")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory [default: config backup.dir].")
@click.option("--remote", is_flag=True, help="The copies on the offsite targets instead: good ones, and incomplete "
              "uploads that are never used.")
@click.option("--target", "target", default=None, help="With --remote: only this offsite target.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (a missing directory: \"dir_exists\": false, exit 0).")
@click.pass_context
def list_archives(ctx: click.Context, directory: str | None, remote: bool, target: str | None,
                  as_json: bool) -> None:
    """Archives with time, size, objects, user objects, verified or not, and where the links point (the
    seed's archives, k3s-cluster-backup-N.tar.gz, as legacy: unsigned, without checksums); with --remote,
    the offsite copies. A backup directory that does not exist is an error (exit 2)
    naming it and the config key backup.dir; with --json, "dir_exists": false says so (exit 0)."""
    if remote:
        from dr_lib.cli.offsite import print_remote_listing  # noqa: PLC0415 - the offsite machinery only for --remote

        print_remote_listing(ctx, target, as_json)
        return
    if target is not None:
        raise UsageError("--target lists one offsite target's copies: accepted with --remote only")
    listing = list_job(app(ctx).config, directory)
    if as_json:
        print_json(listing.to_dict())
        return
    if not listing.exists:
        raise UsageError(f"backup directory {str(listing.directory)!r} does not exist",
                         hint="set backup.dir in the config, pass --dir, or run `k3s-dr backup` first")
    click.echo(f"{'ARCHIVE':<34} {'CREATED (UTC)':<21} {'SIZE':>12} {'OBJECTS':>8} {'USER':>6} VERIFIED LINKS")
    for info in listing.archives:
        objects = "?" if info.objects is None else str(info.objects)
        user = "?" if info.user_objects is None else str(info.user_objects)
        click.echo(f"{info.path.name:<34} {info.created:%Y-%m-%d %H:%M:%S}  {info.bytes:>12,} {objects:>8} "
                   f"{user:>6} {'legacy' if info.legacy else 'yes' if info.verified else 'no':<8} "
                   f"{', '.join(info.links)}")
    for link in listing.links:
        click.echo(f"link {link.name}: {link.state}" + (f" → {link.target}" if link.target else ""))


# `ls` (`ls --remote`): the old spelling of `list`, the same command, hidden from --help.
ls_alias = copy.copy(list_archives)
ls_alias.name, ls_alias.hidden = "ls", True

COMMANDS: list[click.Command] = [backup, verify, list_archives, ls_alias]
