"""The command-line side of ``restore`` and ``diff``: the filter options, and restore's modes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from dr_lib.cli.params import namespace_option
from dr_lib.errors import UsageError

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


@dataclass(frozen=True)
class RestoreMode:
    """Which restore job ``restore`` runs: objects (neither flag), ``--auto`` or ``--datastore``."""

    auto: bool = False
    force: bool = False
    boot_id: str | None = None
    datastore: bool = False

    def check(self, *, dry_run: bool) -> RestoreMode:
        if self.force and not self.auto:
            raise UsageError("--force works with --auto only: a plain restore always restores")
        if self.auto and dry_run:
            raise UsageError("--auto with --dry-run: accepted is one of them (auto-restore decides, then restores)")
        if self.datastore and (self.auto or dry_run):
            raise UsageError("--datastore restores the whole server: accepted without --auto and --dry-run")
        return self
