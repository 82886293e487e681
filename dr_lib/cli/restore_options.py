"""The command-line side of ``restore`` and ``diff``: the filter options, and restore's modes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from dr_lib.cli.params import namespace_option
from dr_lib.errors import UsageError
from dr_lib.jobs.restore_options import sabotaged_sanitizers

F = TypeVar("F", bound=Callable[..., Any])


def plan_filters(verb: str) -> Callable[[F], F]:
    """The filter and mapping options (:class:`dr_lib.jobs.restore_options.PlanFilters`), worded for
    ``verb`` (``restore``, ``compare``): the same flags in restore and diff, each its own help."""

    def add(command: F) -> F:
        options = [
            namespace_option("namespaces", f"{verb.capitalize()} only this namespace (repeatable)."),
            click.option("--exclude-namespace", "exclude_namespaces", multiple=True,
                         help=f"Do not {verb} this namespace (repeatable)."),
            click.option("--kind", "kinds", multiple=True,
                         help=f"{verb.capitalize()} only this kind: Deployment, deployments or deployments.apps "
                              "(repeatable)."),
            click.option("--exclude-kind", "exclude_kinds", multiple=True, help=f"Do not {verb} this kind."),
            click.option("--namespace-mapping", "mappings", multiple=True, metavar="OLD:NEW",
                         help=f"{verb.capitalize()} namespace OLD's objects as namespace NEW's (repeatable)."),
            click.option("--cluster-resources/--no-cluster-resources", "cluster_resources", default=None,
                         help=f"{verb.capitalize()} cluster-scoped objects too [default: yes, unless --namespace "
                              "is given]."),
            click.option("--preserve-nodeports", is_flag=True,
                         help="Keep every Service nodePort [default: only those set explicitly]."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return add


def restore_modes(command: F) -> F:
    """The options that choose restore's job (:class:`RestoreMode`), added to a command."""
    options = [
        click.option("--auto", is_flag=True, help="Boot-time mode: restore only if the cluster lost the snapshot's "
                     "objects (restore.auto_loss_threshold), at most once per boot, and only an archive k3s-dr "
                     "verified in backup.dir."),
        click.option("--force", is_flag=True, help="With --auto: restore whatever the cluster looks like."),
        click.option("--boot-id", default=None, help="With --auto: this boot's id [default: read from /proc]."),
        click.option("--datastore", is_flag=True, help="Restore the k3s server's datastore snapshot and token from "
                     "the archive (stops and starts the k3s unit) instead of API objects."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class RestoreMode:
    """Which restore job ``restore`` runs: objects (neither flag), ``--auto`` or ``--datastore``."""

    auto: bool = False
    force: bool = False
    boot_id: str | None = None
    datastore: bool = False

    def check(self, *, dry_run: bool, sabotage: tuple[str, ...] = ()) -> RestoreMode:
        """Refuse combinations that make no sense; ``sabotage``: the TEST-ONLY ``--test-disable-sanitizer``."""
        if self.force and not self.auto:
            raise UsageError("--force works with --auto only: a plain restore always restores")
        if self.auto and dry_run:
            raise UsageError("--auto with --dry-run: accepted is one of them (auto-restore decides, then restores)")
        if self.datastore and (self.auto or dry_run):
            raise UsageError("--datastore restores the whole server: accepted without --auto and --dry-run")
        sabotaged_sanitizers(sabotage, auto=self.auto, datastore=self.datastore)
        return self
