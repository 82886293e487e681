"""The diff job: per object, what differs between an archive and the live cluster.

It ends like ``diff``: successfully when nothing differs, with exit 1 when objects are missing
or differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dr_lib.config import Config
from dr_lib.errors import DRError
from dr_lib.jobs.restore_options import PlanFilters, resolve_archive, resolve_kubeconfig
from dr_lib.kube.client import Kube
from dr_lib.kube.writing import Writer
from dr_lib.restore.diff import SAME, DiffReport, ObjectDiff, diff_archive


@dataclass(frozen=True)
class DiffOptions:
    archive: str | None = None  # default: the snapshot link in backup.dir
    kubeconfig: str | None = None  # default: config kubeconfig
    filters: PlanFilters = field(default_factory=PlanFilters)


def diff_exit(counts: dict[str, int]) -> DRError | None:
    if counts["missing"] or counts["differs"]:
        return DRError(f"the live cluster differs from the archive: {counts['missing']} objects missing, "
                       f"{counts['differs']} differ")
    return None


@dataclass(frozen=True)
class Differences:
    report: DiffReport

    @property
    def changed(self) -> list[ObjectDiff]:
        """The objects missing from the cluster or differing from the archive, in plan order."""
        return [item for item in self.report.objects if item.state != SAME]

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict()

    @property
    def exit_error(self) -> DRError | None:
        return diff_exit(self.report.counts)


def diff(config: Config, options: DiffOptions) -> Differences:
    with Kube.from_kubeconfig(resolve_kubeconfig(config, options.kubeconfig)) as kube:
        return Differences(diff_archive(resolve_archive(config, options.archive), Writer(kube),
                                        options.filters.plan_options()))
