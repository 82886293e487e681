"""Options shared by ``restore`` and ``diff``: which objects, where to, from which archive."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dr_lib.config import Config
from dr_lib.errors import UsageError
from dr_lib.restore.plan import PlanOptions

F = TypeVar("F", bound=Callable[..., Any])
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def restore_filters(command: F) -> F:
    """The filter and mapping options, added to a command."""
    options = [
        click.option("-n", "--namespace", "namespaces", multiple=True,
                     help="Restore only this namespace (repeatable)."),
        click.option("--exclude-namespace", "exclude_namespaces", multiple=True, help="Leave out this namespace."),
        click.option("--kind", "kinds", multiple=True,
                     help="Restore only this kind: Deployment, deployments or deployments.apps (repeatable)."),
        click.option("--exclude-kind", "exclude_kinds", multiple=True, help="Leave out this kind."),
        click.option("--namespace-mapping", "mappings", multiple=True, metavar="OLD:NEW",
                     help="Restore namespace OLD's objects into NEW (repeatable)."),
        click.option("--cluster-resources/--no-cluster-resources", "cluster_resources", default=None,
                     help="Include cluster-scoped objects [default: yes, unless --namespace is given]."),
        click.option("--preserve-nodeports", is_flag=True,
                     help="Keep every Service nodePort [default: only those set explicitly]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _namespace(value: str, flag: str) -> str:
    if not _NAMESPACE.match(value):
        raise UsageError(f"{flag} {value!r} is not a namespace name: accepted is a DNS label "
                         "(lower-case letters, digits, '-')")
    return value


def parse_mapping(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        old, sep, new = value.partition(":")
        if not sep:
            raise UsageError(f"--namespace-mapping {value!r} has no ':': accepted is OLD:NEW")
        pairs.append((_namespace(old, "--namespace-mapping"), _namespace(new, "--namespace-mapping")))
    olds = [old for old, _new in pairs]
    if len(set(olds)) != len(olds):
        raise UsageError("--namespace-mapping names one namespace twice: accepted is one mapping per namespace")
    return tuple(pairs)


def plan_options(filters: dict[str, Any], *, disabled_sanitizers: frozenset[str] = frozenset()) -> PlanOptions:
    """``disabled_sanitizers``: TEST-ONLY, from restore's hidden ``--test-disable-sanitizer`` (never from the
    environment)."""
    return PlanOptions(
        include_namespaces=frozenset(_namespace(n, "--namespace") for n in filters["namespaces"]),
        exclude_namespaces=frozenset(_namespace(n, "--exclude-namespace") for n in filters["exclude_namespaces"]),
        include_kinds=frozenset(k.lower() for k in filters["kinds"]),
        exclude_kinds=frozenset(k.lower() for k in filters["exclude_kinds"]),
        namespace_mapping=parse_mapping(filters["mappings"]),
        include_cluster_scoped=filters["cluster_resources"],
        preserve_node_ports=bool(filters["preserve_nodeports"]),
        disabled_sanitizers=disabled_sanitizers,
    )


TEST_DISABLE_SANITIZER_FLAG = "--test-disable-sanitizer"


def sabotaged_sanitizers(values: tuple[str, ...], *, auto: bool, datastore: bool) -> frozenset[str]:
    """TEST-ONLY: resources (e.g. ``persistentvolumes``) whose sanitizer a deliberately broken drill skips.

    A hidden flag of ``restore`` that the drill passes to the restore it runs: no environment
    variable reaches a production restore, and the boot-time ``--auto`` refuses it outright.
    """
    names = frozenset(value.strip().lower() for value in values if value.strip())
    if names and (auto or datastore):
        raise UsageError(f"{TEST_DISABLE_SANITIZER_FLAG} is a test-only switch of a drill's restore: accepted only "
                         "without --auto and --datastore")
    bad = sorted(name for name in names if not re.fullmatch(r"[a-z0-9.-]+", name))
    if bad:
        raise UsageError(f"{TEST_DISABLE_SANITIZER_FLAG} {bad[0]!r} is not a resource: accepted is e.g. "
                         "persistentvolumes or deployments.apps")
    return names


def resolve_archive(config: Config, archive: str | None, *, must_exist: bool = True) -> Path:
    """The archive named, or the snapshot link in the backup directory."""
    path = Path(archive) if archive else Path(config.backup.dir) / config.backup.snapshot_link
    if must_exist and not path.exists():
        what = "the snapshot link" if archive is None else "the archive"
        raise UsageError(f"{what} {str(path)!r} does not exist",
                         hint="name an archive, or run a backup first" if archive is None else None)
    return path


def resolve_kubeconfig(config: Config, kubeconfig: str | None) -> str:
    return kubeconfig or config.kubeconfig
