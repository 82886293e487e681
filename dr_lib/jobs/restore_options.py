"""Options shared by the restore jobs and ``diff``: which objects, where to, from which archive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dr_lib.config import Config, kubeconfig_path
from dr_lib.errors import UsageError
from dr_lib.restore.plan import PlanOptions

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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


@dataclass(frozen=True)
class PlanFilters:
    """Which objects of the archive, into which namespaces (``restore``, ``restore --auto``, ``diff``)."""

    namespaces: tuple[str, ...] = ()  # only these (-n)
    exclude_namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # Deployment, deployments or deployments.apps
    exclude_kinds: tuple[str, ...] = ()
    mappings: tuple[str, ...] = ()  # OLD:NEW
    cluster_resources: bool | None = None  # None: yes, unless namespaces are named
    preserve_nodeports: bool = False

    def plan_options(self, disabled_sanitizers: frozenset[str] = frozenset()) -> PlanOptions:
        """The planner's options; bad namespace names and mappings are usage errors.
        ``disabled_sanitizers``: TEST-ONLY, from restore's hidden ``--test-disable-sanitizer``
        (:func:`sabotaged_sanitizers`), never from the environment."""
        return PlanOptions(
            include_namespaces=frozenset(_namespace(n, "--namespace") for n in self.namespaces),
            exclude_namespaces=frozenset(_namespace(n, "--exclude-namespace") for n in self.exclude_namespaces),
            include_kinds=frozenset(k.lower() for k in self.kinds),
            exclude_kinds=frozenset(k.lower() for k in self.exclude_kinds),
            namespace_mapping=parse_mapping(self.mappings),
            include_cluster_scoped=self.cluster_resources,
            preserve_node_ports=self.preserve_nodeports,
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
    """--kubeconfig, $KUBECONFIG, config ``kubeconfig``, the k3s default: :func:`dr_lib.config.kubeconfig_path`."""
    return kubeconfig_path(config, kubeconfig)
