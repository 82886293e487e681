"""`k3s-dr backup | verify | list`: take verified backups, check an archive, see what is on disk."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from dr_lib.archive.access import object_counts, verify_archive
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.backup.catalog import scan
from dr_lib.backup.export import DEFAULT_WORKERS, Progress
from dr_lib.backup.result import BackupResult
from dr_lib.backup.run import BackupRequest, run_backup
from dr_lib.backup.scope import ScopeOptions
from dr_lib.cli import autopush, metrics_record
from dr_lib.cli.common import app, print_json
from dr_lib.clock import utc_now
from dr_lib.errors import DRError, NotPromoted, PartialFailure
from dr_lib.hooks import DataCollector, HookSettings
from dr_lib.kube.listing import DEFAULT_PAGE_SIZE


class TerminalProgress:
    """One self-overwriting status line on stderr, at most ten updates a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < 0.1 and progress.kinds_done < progress.kinds_total:
                return
            self._last = now
            self._shown = True
            sys.stderr.write(f"\rbacking up: {progress.kinds_done}/{progress.kinds_total} kinds, "
                             f"{progress.objects:,} objects ")
            sys.stderr.flush()

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _summary(result: BackupResult) -> str:
    links = ", ".join(f"{name} → {target}" for name, target in result.links.items())
    lines = [f"archive  {result.archive}", f"objects  {result.objects} in {len(result.kinds)} kinds",
             f"size     {result.bytes:,} bytes, sha256 {result.sha256}",
             f"datastore {result.datastore['kind'] if result.datastore else 'none'}",
             f"verified yes; promoted {'yes' if result.promoted else 'NO'}; links: {links}",
             f"took     {result.seconds:.2f} s"]
    if result.deleted:
        lines.append(f"rotated  {', '.join(result.deleted)}")
    lines += [f"warning  {warning}" for warning in result.warnings]
    return "\n".join(lines)


@click.command("backup")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Kubeconfig of the cluster [default: config 'kubeconfig', /etc/rancher/k3s/k3s.yaml].")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory [default: config backup.dir, /var/backups/k3s-cluster].")
@click.option("--all-resources", is_flag=True, help="Every listable, creatable resource (API discovery).")
@click.option("--include-kind", "--kind", "include_kinds", multiple=True, help="Only these kinds (repeatable).")
@click.option("--exclude-kind", "exclude_kinds", multiple=True, help="Leave these kinds out (repeatable).")
@click.option("--include-namespace", "-n", "include_namespaces", multiple=True,
              help="Only these namespaces for namespaced kinds (repeatable).")
@click.option("--exclude-namespace", "exclude_namespaces", multiple=True, help="Leave these namespaces out.")
@click.option("--selector", "-l", default=None, help="Label selector applied to every LIST.")
@click.option("--datastore/--no-datastore", "datastore", default=None,
              help="Require / skip the k3s datastore snapshot [default: when this host is a k3s server].")
@click.option("--allow-shrink", is_flag=True, help="Promote even if the user objects dropped sharply, or to none "
              "(objects deleted on purpose).")
@click.option("--data/--no-data", "data", default=True, show_default=True,
              help="Application data: run pods' backup hooks and copy their volumes (docs/hooks.md).")
@click.option("--workers", type=click.IntRange(1, 32), default=DEFAULT_WORKERS, show_default=True, hidden=True)
@click.option("--page-size", type=click.IntRange(10, 10000), default=DEFAULT_PAGE_SIZE, show_default=True,
              hidden=True)
@click.option("--push/--no-push", "push", default=None,
              help="Push the verified archive to every offsite target [default: config offsite.push_after_backup "
                   "when targets are configured and the archive went to backup.dir].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def backup(ctx: click.Context, kubeconfig: str | None, directory: str | None, all_resources: bool,  # noqa: PLR0917
           include_kinds: tuple[str, ...], exclude_kinds: tuple[str, ...], include_namespaces: tuple[str, ...],
           exclude_namespaces: tuple[str, ...], selector: str | None, datastore: bool | None, allow_shrink: bool,
           data: bool, workers: int, page_size: int, push: bool | None, as_json: bool) -> None:
    """Back up the cluster into a verified archive and point the links at it; then push it offsite."""
    config = app(ctx).config
    autopush.check_choice(config, push)
    options = ScopeOptions(all_resources, include_kinds, exclude_kinds, include_namespaces, exclude_namespaces,
                           selector)
    progress = TerminalProgress() if sys.stderr.isatty() else None
    request = BackupRequest.from_config(
        config.backup, kubeconfig=Path(kubeconfig or config.kubeconfig),
        directory=Path(directory) if directory else None, options=options, allow_shrink=allow_shrink,
        datastore={None: "auto", True: "on", False: "off"}[datastore], workers=workers, page_size=page_size,
        progress=progress, data_collector=DataCollector(HookSettings.from_config(
            config.hooks, include_namespaces=include_namespaces, exclude_namespaces=exclude_namespaces))
        if data else None)
    try:
        result = run_backup(request)
    except DRError as exc:
        metrics_record.backup_failed(config, exc, directory)
        raise
    finally:
        if progress is not None:
            progress.close()
    metrics_record.backup_done(config, result)
    click.echo(result.log_line(utc_now()), err=True)
    pushed = autopush.push_after(config, result, push)
    if as_json:
        print_json(result.to_dict() | {"push": autopush.as_json(pushed)})
    else:
        click.echo(_summary(result) + autopush.summary(pushed))
    if result.partial:
        also = autopush.failure(pushed)
        raise PartialFailure(f"archive {result.archive.name} lacks application data: "
                             + "; ".join(w for w in result.warnings if w.startswith("application data"))
                             + (f"; and {also}" if also else ""))
    if not result.promoted:
        raise NotPromoted(f"archive {result.archive.name} was kept but not promoted: {result.not_promoted_reason}",
                          hint="if the objects were deleted on purpose, run again with --allow-shrink")
    autopush.raise_for(result, pushed)


@click.command("verify")
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(archive: str, as_json: bool) -> None:
    """Check an archive completely; on success write (refresh) its .verified.json sidecar."""
    result = verify_archive(archive)
    warning = None
    try:
        write_sidecar(result, utc_now())
    except DRError as exc:
        warning = f"verified, but the sidecar could not be written: {exc}"
        click.echo(f"k3s-dr: warning: {warning}", err=True)
    if as_json:
        print_json({"archive": str(result.path), "ok": True, "objects": result.objects,
                    "user_objects": result.user_objects, "bytes": result.bytes,
                    "sha256": result.sha256, "kinds": object_counts(result.manifest),
                    "created": result.manifest.created, "format_version": result.manifest.format_version,
                    "datastore": None if result.manifest.datastore is None else result.manifest.datastore.kind,
                    "seconds": round(result.seconds, 3), "sidecar_written": warning is None})
        return
    click.echo(f"ok: {result.path} ({result.objects} objects, {result.user_objects} of them user objects, in "
               f"{len(result.manifest.files)} kinds, "
               f"sha256 {result.sha256}, checked in {result.seconds:.2f} s)")


@click.command("list")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Backup directory [default: config backup.dir].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def list_archives(ctx: click.Context, directory: str | None, as_json: bool) -> None:
    """Archives with time, size, objects, user objects, verified or not, and where the links point."""
    config = app(ctx).config.backup
    where = Path(directory or config.dir)
    archives, links = scan(where, (config.latest_link, config.snapshot_link))
    if as_json:
        report: dict[str, Any] = {"dir": str(where), "archives": [a.to_dict() for a in archives],
                                  "links": {link.name: link.to_dict() for link in links}}
        print_json(report)
        return
    click.echo(f"{'ARCHIVE':<34} {'CREATED (UTC)':<21} {'SIZE':>12} {'OBJECTS':>8} {'USER':>6} VERIFIED LINKS")
    for info in archives:
        objects = "?" if info.objects is None else str(info.objects)
        user = "?" if info.user_objects is None else str(info.user_objects)
        click.echo(f"{info.path.name:<34} {info.created:%Y-%m-%d %H:%M:%S}  {info.bytes:>12,} {objects:>8} "
                   f"{user:>6} {'yes' if info.verified else 'no':<8} {', '.join(info.links)}")
    for link in links:
        click.echo(f"link {link.name}: {link.state}" + (f" → {link.target}" if link.target else ""))


COMMANDS: list[click.Command] = [backup, verify, list_archives]
